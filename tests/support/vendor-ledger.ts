import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { StoredJob } from "@/lib/jobs/job";
import { createKlingClient } from "@/lib/providers/kling/client";
import { jpegDataUrl } from "@/lib/providers/replicate/data-url";
import type { VendorEmulators } from "@/tests/support/emulators";

/**
 * What each vendor emulator was asked to create for one job, per step: the "money spent" ledger the
 * hostile suites compare against "exactly once".
 */
export interface StepLedger {
  /** OpenAI creates accepted for `{jobId}-advice-*`. */
  advice: number;
  /** Kling tasks that exist for `{jobId}-style-*` (read back through Kling's own task list). */
  style: number;
  tryon: number;
  /** Kling create calls, accepted or refused (a refused resubmit of a known key creates nothing). */
  styleCalls: number;
  tryonCalls: number;
  /** Replicate predictions created with this job's try-on image as the target. */
  faceswap: number;
}

const KLING_KINDS = { style: "/v1/images/generations", tryon: "/v1/images/kolors-virtual-try-on" } as const;

/** Every Kling task the emulator holds (its id and our external_task_id), read through Kling's list endpoint. */
export async function klingTasks(
  vendors: VendorEmulators,
): Promise<Array<{ taskId: string; externalId: string | null }>> {
  const client = createKlingClient({
    accessKey: vendors.env.KLING_ACCESS_KEY ?? "",
    secretKey: vendors.env.KLING_SECRET_KEY ?? "",
    baseUrl: vendors.kling.url,
  });
  const found: Array<{ taskId: string; externalId: string | null }> = [];
  for (const kindPath of Object.values(KLING_KINDS)) {
    for (let page = 1; ; page++) {
      const listed = await client.listTasks(
        kindPath,
        { pageNum: page, pageSize: 500 },
        AbortSignal.timeout(10_000),
      );
      const tasks = listed?.tasks ?? [];
      for (const task of tasks) {
        found.push({ taskId: task.task_id, externalId: task.task_info?.external_task_id ?? null });
      }
      if (tasks.length < 500) break;
    }
  }
  return found;
}

/** How many Kling tasks exist per external_task_id. */
export async function klingTasksByExternalId(vendors: VendorEmulators): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { externalId } of await klingTasks(vendors)) {
    const key = externalId ?? "(none)";
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * The key the Replicate emulator counts a face swap under: the sha256 of the target input, which in
 * local-blob mode is the data URL the adapter builds from the job's stored try-on image.
 */
export async function replicateKeyOf(job: StoredJob, dataDir: string): Promise<string | null> {
  const tryon = job.artifacts.tryon;
  if (!tryon) return null;
  const bytes = await readFile(path.join(dataDir, "blobs", tryon.key));
  return createHash("sha256")
    .update(await jpegDataUrl(bytes))
    .digest("hex");
}

const sumByPrefix = (counts: Map<string, number>, prefix: string) =>
  [...counts].reduce((sum, [key, n]) => (key.startsWith(prefix) ? sum + n : sum), 0);

/** The ledger of one job (its stored record gives the try-on image Replicate was sent). */
export async function ledgerOf(
  vendors: VendorEmulators,
  job: StoredJob,
  dataDir: string,
  klingTasks?: Map<string, number>,
): Promise<StepLedger> {
  const tasks = klingTasks ?? (await klingTasksByExternalId(vendors));
  const calls = vendors.kling.createsByExternalId();
  const replicateKey = await replicateKeyOf(job, dataDir);
  return {
    advice: sumByPrefix(vendors.openai.createsByKey(), `${job.id}-advice-`),
    style: sumByPrefix(tasks, `${job.id}-style-`),
    tryon: sumByPrefix(tasks, `${job.id}-tryon-`),
    styleCalls: sumByPrefix(calls, `${job.id}-style-`),
    tryonCalls: sumByPrefix(calls, `${job.id}-tryon-`),
    faceswap: replicateKey ? (vendors.replicate.creates().get(replicateKey) ?? 0) : 0,
  };
}
