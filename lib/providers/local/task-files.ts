import { createHash, randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

export const LOCAL_TASK_KINDS = ["advice", "style", "tryon", "faceswap"] as const;
export type LocalTaskKind = (typeof LOCAL_TASK_KINDS)[number];

const adviceSchema = z.object({
  summary: z.string(),
  pieces: z.array(z.string()),
  stylePrompt: z.string(),
  source: z.enum(["offline", "openai"]),
});

/** One submitted task, as stored in `${dir}/tasks/${taskId}.json`. Written once, never updated. */
const localTaskSchema = z.object({
  taskId: z.uuid(),
  kind: z.enum(LOCAL_TASK_KINDS),
  idempotencyKey: z.string(),
  /** ms epoch. */
  createdAt: z.number(),
  /** ms epoch: the task reports running until then, like a real provider still working. */
  readyAt: z.number(),
  /** The advice step's result; image steps keep theirs in `${dir}/outputs/${taskId}.jpg`. */
  advice: adviceSchema.optional(),
  /** Set when the work itself failed (an unreadable input): reported once readyAt passes. */
  failure: z.object({ message: z.string(), detail: z.string() }).optional(),
});

export type LocalTaskRecord = z.infer<typeof localTaskSchema>;

const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function newTaskId(): string {
  return randomUUID();
}

const tasksDir = (dir: string) => path.join(dir, "tasks");
const taskFile = (dir: string, taskId: string) => path.join(tasksDir(dir), `${taskId}.json`);
const outputFile = (dir: string, taskId: string) => path.join(dir, "outputs", `${taskId}.jpg`);
// Hashed: the key is caller-supplied text, and a hash is a safe, collision-free file name.
const keyFile = (dir: string, key: string) =>
  path.join(dir, "by-key", createHash("sha256").update(key).digest("hex"));

/** Write to a temp file, then rename: another process never reads a half-written file. */
async function writeAtomically(file: string, data: string | Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temp, data);
  await rename(temp, file);
}

async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** Saves a task. The output image goes first and the key index last, so each one points at complete data. */
export async function saveTask(dir: string, record: LocalTaskRecord, image?: Buffer): Promise<void> {
  if (image) await writeAtomically(outputFile(dir, record.taskId), image);
  await writeAtomically(taskFile(dir, record.taskId), JSON.stringify(record));
  await writeAtomically(keyFile(dir, record.idempotencyKey), record.taskId);
}

/** The task with this id, or null when there is none (or the id is not one of ours). */
export async function loadTask(dir: string, taskId: string): Promise<LocalTaskRecord | null> {
  // Only our own uuids become paths, so a stored id can never point outside the tasks folder.
  if (!TASK_ID.test(taskId)) return null;
  const raw = await readIfExists(taskFile(dir, taskId));
  return raw ? localTaskSchema.parse(JSON.parse(raw.toString("utf8"))) : null;
}

export function loadOutputImage(dir: string, taskId: string): Promise<Buffer | null> {
  return readIfExists(outputFile(dir, taskId));
}

/** The latest task submitted with this idempotency key, or null. */
export async function findTaskIdByKey(dir: string, idempotencyKey: string): Promise<string | null> {
  const raw = await readIfExists(keyFile(dir, idempotencyKey));
  if (!raw) return null;
  const task = await loadTask(dir, raw.toString("utf8"));
  return task?.idempotencyKey === idempotencyKey ? task.taskId : null;
}

/** Removes a task's record, its output image and its key file: the offline studio keeps nothing of it. */
export async function deleteTask(dir: string, taskId: string): Promise<void> {
  if (!TASK_ID.test(taskId)) return;
  const task = await loadTask(dir, taskId).catch(() => null);
  await rm(outputFile(dir, taskId), { force: true });
  if (task) {
    // The key file only while it still names this task (a later attempt may have taken the key).
    const byKey = await readIfExists(keyFile(dir, task.idempotencyKey));
    if (byKey?.toString("utf8") === taskId) await rm(keyFile(dir, task.idempotencyKey), { force: true });
  }
  await rm(taskFile(dir, taskId), { force: true });
}

/** Removes every task a job submitted: its idempotency keys are `{jobId}-{step}-{attempt}`. */
export async function deleteTasksOfJob(dir: string, jobId: string): Promise<number> {
  const tasks = (await listLocalTasks(dir)).filter((task) => task.idempotencyKey.startsWith(`${jobId}-`));
  for (const task of tasks) await deleteTask(dir, task.taskId);
  return tasks.length;
}

/** Every task recorded under `dir`, oldest first: tests count them to prove each step ran once. */
export async function listLocalTasks(
  dir: string,
): Promise<Array<{ taskId: string; kind: LocalTaskKind; idempotencyKey: string }>> {
  let names: string[];
  try {
    names = await readdir(tasksDir(dir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const records = await Promise.all(
    names.filter((n) => n.endsWith(".json")).map((n) => loadTask(dir, n.slice(0, -".json".length))),
  );
  return records
    .filter((r): r is LocalTaskRecord => r !== null)
    .sort((a, b) => a.createdAt - b.createdAt)
    .map(({ taskId, kind, idempotencyKey }) => ({ taskId, kind, idempotencyKey }));
}
