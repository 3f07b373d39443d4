import { randomUUID } from "node:crypto";
import type { AdvanceDeps } from "@/lib/jobs/advance";
import { isTerminal, type StoredJob } from "@/lib/jobs/job";
import { PIPELINE } from "@/lib/jobs/pipeline";
import { forgetTask, stopJob } from "@/lib/jobs/stop-job";
import { logEvent } from "@/lib/log";

/** A deleted look is stopped with this reason first (nobody reads it: the record goes next). */
const DELETED = { code: "cancelled", message: "This look was deleted." } as const;
/** How long an erase waits for an advance in flight to let go of the job before deleting its files. */
const LEASE_WAIT_MS = 3_000;
const LEASE_POLL_MS = 100;

/**
 * Waits (briefly) until no advance holds the job, then holds it: an advance that was saving an
 * output when the job stopped has finished writing its file by then, so the prefix delete gets it.
 */
async function holdJob(deps: AdvanceDeps, jobId: string): Promise<void> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const token = randomUUID();
  for (let waited = 0; waited < LEASE_WAIT_MS; waited += LEASE_POLL_MS) {
    if (await deps.store.acquireLease(jobId, token, LEASE_WAIT_MS * 10)) return;
    if (!(await deps.store.get(jobId))) return;
    await sleep(LEASE_POLL_MS);
  }
  logEvent("erase.lease_busy", { jobId });
}

/**
 * Stops the job (stopJob cancels its running task and deletes the vendor's copy); a job that had
 * already ended only has the copy of the task it was last on deleted (a failed or timed-out step's
 * was discarded when it ended; this repeats it harmlessly). Null when there is no record.
 */
async function stopForErase(deps: AdvanceDeps, jobId: string): Promise<StoredJob | null> {
  const job = await deps.store.get(jobId);
  if (!job) return null;
  if (!isTerminal(job.status)) return stopJob(deps, jobId, DELETED);
  const step = (deps.pipeline ?? PIPELINE)[job.stepIndex];
  const taskId = job.current?.taskId;
  if (step && taskId) await forgetTask(deps, job, step, taskId);
  return job;
}

/**
 * Removes everything this app holds of one job, record or not (an expired job has none): the job is
 * stopped first (nothing further is submitted, a running task is cancelled where the vendor can),
 * its vendor-side copy deleted where an API allows, then every file under `<jobId>/`, the offline
 * studio's own task files, and last the record with every index entry. Each part is idempotent, so
 * a failed erase is simply run again (a repeat DELETE, the next sweep).
 */
export async function eraseJob(deps: AdvanceDeps, jobId: string): Promise<void> {
  const stopped = await stopForErase(deps, jobId);
  if (stopped) await holdJob(deps, jobId);
  await deps.blobs.deletePrefix(`${jobId}/`);
  const pipeline = deps.pipeline ?? PIPELINE;
  await Promise.all(pipeline.map((step) => step.forgetJob(deps.providers, jobId)));
  await deps.store.delete(jobId);
  logEvent("job.erased", { jobId, hadRecord: stopped !== null });
}
