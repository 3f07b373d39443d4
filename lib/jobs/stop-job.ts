import type { JobErrorCode } from "@/lib/job-errors";
import type { AdvanceDeps } from "@/lib/jobs/advance";
import { isTerminal, type StoredJob } from "@/lib/jobs/job";
import { PIPELINE, type Step } from "@/lib/jobs/pipeline";
import { failJob } from "@/lib/jobs/transitions";
import { logEvent } from "@/lib/log";
import { DEFAULT_CALL_TIMEOUT_MS } from "@/lib/time-budget";

/** Why a job is stopped: the sentence a person reads and the code a machine reads. */
export interface StopReason {
  code: JobErrorCode;
  message: string;
}

/** Writers that can race a stop: a handful of polls, a callback, the sweep. */
const MAX_STOP_WRITES = 10;

/**
 * Ends an unfinished job at once, whoever holds its lease: `failed` with `reason`, by
 * compare-and-set (read afresh when another writer wins), then its running vendor task is cancelled
 * where the vendor can cancel. An advance in flight loses its next commit, so it submits nothing
 * after this; a create already on the wire is cancelled when its own commit loses
 * (lib/jobs/submit-step.ts). A finished job is returned unchanged; null when there is no job.
 */
export async function stopJob(
  deps: AdvanceDeps,
  jobId: string,
  reason: StopReason,
): Promise<StoredJob | null> {
  const now = deps.now ?? Date.now;
  for (let attempt = 0; attempt < MAX_STOP_WRITES; attempt++) {
    const job = await deps.store.get(jobId);
    if (!job || isTerminal(job.status)) return job;
    const stopped = { ...failJob(job, reason.message, reason.code), updatedAt: now() };
    const written = await deps.store.compareAndSet(stopped, job.version);
    if (written) {
      logEvent("job.stopped", { jobId, code: reason.code, step: job.stepIndex });
      await cancelRunningTask(deps, job, reason.code);
      return written;
    }
  }
  throw new Error(`job ${jobId} kept changing while it was being stopped`);
}

/** Best effort: the task of the job's current step is cancelled at its vendor and its copy deleted. */
export async function cancelRunningTask(deps: AdvanceDeps, job: StoredJob, why: string): Promise<void> {
  const step = (deps.pipeline ?? PIPELINE)[job.stepIndex];
  const taskId = job.current?.taskId ?? null;
  if (step && taskId) await discardTask(deps, job, step, taskId, why);
}

/**
 * Best effort, for a task nobody will use (a stopped, timed-out, duplicate or orphaned one): cancelled
 * where the vendor can cancel, then its vendor-side copy deleted (forgetTask). Failures are logged.
 */
export async function discardTask(
  deps: AdvanceDeps,
  job: StoredJob,
  step: Step,
  taskId: string,
  why: string,
): Promise<void> {
  const fields = { jobId: job.id, step: step.name, taskId, reason: why };
  if (step.provider(deps.providers).canCancel) {
    const scope = callScope(deps, job);
    try {
      await step.cancel(scope, taskId, { signal: scope.signal });
      logEvent("step.task_cancelled", fields);
    } catch (error) {
      logEvent("step.cancel_failed", { ...fields, error });
    }
  } else {
    logEvent("step.cancel_unavailable", fields);
  }
  await forgetTask(deps, job, step, taskId);
}

/**
 * Best effort: the vendor-side copy of a task is deleted where an API allows (OpenAI keeps a stored
 * response, with the photos, until it is deleted); a failure is logged, never thrown.
 */
export async function forgetTask(
  deps: AdvanceDeps,
  job: StoredJob,
  step: Step,
  taskId: string,
): Promise<void> {
  const scope = callScope(deps, job);
  try {
    await step.forget(scope, taskId, { signal: scope.signal });
  } catch (error) {
    logEvent("step.forget_failed", { jobId: job.id, step: step.name, taskId, error });
  }
}

function callScope(deps: AdvanceDeps, job: StoredJob) {
  const signal = AbortSignal.timeout(deps.providerTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
  return { job, blobs: deps.blobs, providers: deps.providers, signal };
}
