import { z } from "zod";

/** Every Kling answer: `code` 0 means success. Parsed loosely: unknown fields pass, types bend. */
export const klingEnvelopeSchema = z
  .object({
    code: z.coerce.number(),
    message: z.string().nullish(),
    request_id: z.string().nullish(),
    data: z.unknown().optional(),
  })
  .loose();

/** Kling's ids and times arrive as numbers or strings depending on the endpoint and client. */
const looseId = z.union([z.string(), z.number()]).transform(String);
const looseTime = z.union([z.number(), z.string()]).nullish();

export const klingTaskSchema = z
  .object({
    task_id: looseId,
    task_status: z.string(),
    task_status_msg: z.string().nullish(),
    task_info: z.object({ external_task_id: z.string().nullish() }).loose().nullish(),
    task_result: z
      .object({
        images: z
          .array(z.object({ index: z.number().nullish(), url: z.string().nullish() }).loose())
          .nullish(),
      })
      .loose()
      .nullish(),
    created_at: looseTime,
    updated_at: looseTime,
  })
  .loose();

export type KlingTask = z.infer<typeof klingTaskSchema>;

/** One page of a list endpoint: the tasks that parse, and how many entries did not. */
export interface TaskListPage {
  tasks: KlingTask[];
  /** Entries that are not readable tasks: a lookup that skipped one cannot say "not there". */
  unreadable: number;
  /** How many entries the page had, readable or not. */
  size: number;
}

/** One page of a list endpoint, or null when the answer is not a list at all; unreadable entries are counted. */
export function parseTaskListPage(data: unknown): TaskListPage | null {
  if (!Array.isArray(data)) return null;
  const tasks = data.flatMap((item) => {
    const parsed = klingTaskSchema.safeParse(item);
    return parsed.success ? [parsed.data] : [];
  });
  return { tasks, unreadable: data.length - tasks.length, size: data.length };
}

/** `created_at` as ms epoch: Kling sends ms (number or numeric string); seconds and ISO text are tolerated. */
export function createdAtMs(task: KlingTask): number | undefined {
  const raw = task.created_at;
  if (raw === null || raw === undefined || raw === "") return undefined;
  const numeric = Number(raw);
  if (Number.isFinite(numeric)) return numeric < 1e11 ? numeric * 1_000 : numeric;
  const parsed = Date.parse(String(raw));
  return Number.isNaN(parsed) ? undefined : parsed;
}
