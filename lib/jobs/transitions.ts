import type { JobErrorCode } from "@/lib/job-errors";
import type { Artifacts, CurrentStep, StoredJob } from "@/lib/jobs/job";
import type { Step } from "@/lib/jobs/pipeline";

/**
 * The job's transitions as pure functions: each returns the next record, and `advance` writes it
 * with one compare-and-set.
 */

export function freshStep(now: number): CurrentStep {
  return {
    attempt: 1,
    startedAt: now,
    submittingAt: null,
    taskId: null,
    failures: 0,
    lastError: null,
    creates: 0,
    unknownOutcomes: 0,
    missingChecks: 0,
    pausedAt: null,
  };
}

function withCurrent(job: StoredJob, patch: Partial<CurrentStep>, nextCheckAt: number): StoredJob {
  if (!job.current) throw new Error(`job ${job.id} has no step in progress`);
  return { ...job, current: { ...job.current, ...patch }, nextCheckAt };
}

/**
 * Saves the intent to submit before calling the provider, so a lost answer is recovered, not
 * repeated, and counts the create against the step's and the job's caps in the same write.
 */
export function markSubmitting(job: StoredJob, now: number): StoredJob {
  const creates = (job.current?.creates ?? 0) + 1;
  const marked = withCurrent(job, { submittingAt: now, creates, pausedAt: null }, job.nextCheckAt);
  return { ...marked, creates: job.creates + 1 };
}

/** The step's task is known (submitted, found by a lookup, or named by a callback). */
export function recordTask(job: StoredJob, taskId: string, nextCheckAt: number): StoredJob {
  return withCurrent(job, { taskId, submittingAt: null, pausedAt: null, missingChecks: 0 }, nextCheckAt);
}

/** A lookup answered that the vendor has no task from the last create: its outcome is settled. */
export function forgetSubmit(job: StoredJob): StoredJob {
  return withCurrent(job, { submittingAt: null }, job.nextCheckAt);
}

/** The last create's outcome stays unknown and the vendor cannot be asked: the repeat is blind. */
export function countUnknownOutcome(job: StoredJob): StoredJob {
  return withCurrent(job, { unknownOutcomes: (job.current?.unknownOutcomes ?? 0) + 1 }, job.nextCheckAt);
}

export function scheduleCheck(job: StoredJob, nextCheckAt: number): StoredJob {
  if (!job.current?.missingChecks) return { ...job, nextCheckAt };
  return withCurrent(job, { missingChecks: 0 }, nextCheckAt);
}

/**
 * Nobody watches and nothing else would carry the job to its end: no paid create until a person
 * opens the look. Off the schedule (nextCheckAt 0, out of the active index) until then.
 */
export function pauseStep(job: StoredJob, now: number): StoredJob {
  return withCurrent(job, { pausedAt: now }, 0);
}

/** A person opened a paused look: the step starts afresh, so its deadline counts from now. */
export function resumeStep(job: StoredJob, now: number): StoredJob {
  return withCurrent(job, { pausedAt: null, startedAt: now }, job.nextCheckAt);
}

/**
 * Where a failure happened decides what a retry repeats. `submit`: the create's outcome is unknown;
 * `refused`: the vendor certainly created nothing; `check`: reading the task (or saving its result)
 * failed; `missing`: the vendor said it has no such task; `task`: the provider's task itself failed.
 */
export type FailurePhase = "submit" | "refused" | "check" | "missing" | "task";

export function retryLater(
  job: StoredJob,
  phase: FailurePhase,
  failure: { failures: number; lastError: string; at: number },
): StoredJob {
  const { failures, lastError, at } = failure;
  switch (phase) {
    // submit: the create may exist, so keep the intent and the next try looks for the task first.
    // check: the task itself stands, so check it again.
    case "submit":
    case "check":
      return withCurrent(job, { failures, lastError }, at);
    // Nothing was created: the next try simply creates.
    case "refused":
      return withCurrent(job, { failures, lastError, submittingAt: null }, at);
    // Maybe the vendor is not consistent yet: check once more before paying for a new attempt.
    case "missing":
      return withCurrent(
        job,
        { failures, lastError, missingChecks: (job.current?.missingChecks ?? 0) + 1 },
        at,
      );
    // The provider's task failed: a new attempt, with a new idempotency key.
    case "task": {
      const attempt = (job.current?.attempt ?? 0) + 1;
      const patch = { failures, lastError, attempt, taskId: null, submittingAt: null, missingChecks: 0 };
      return withCurrent(job, patch, at);
    }
  }
}

/** Records the step's output and moves to the next step, or to `completed` after the last one. */
export function completeStep(
  job: StoredJob,
  added: Partial<Artifacts>,
  pipeline: readonly Step[],
  now: number,
): StoredJob {
  const artifacts = { ...job.artifacts, ...added };
  const nextIndex = job.stepIndex + 1;
  const next = pipeline[nextIndex];
  if (!next) {
    return { ...job, artifacts, status: "completed", stepIndex: nextIndex, current: null, nextCheckAt: 0 };
  }
  return {
    ...job,
    artifacts,
    status: next.status,
    stepIndex: nextIndex,
    current: freshStep(now),
    nextCheckAt: 0,
  };
}

/** `code`: why, for machines (lib/job-errors.ts); `message`: the sentence a person reads. */
export function failJob(job: StoredJob, message: string, code: JobErrorCode): StoredJob {
  return { ...job, status: "failed", error: message, errorCode: code, nextCheckAt: 0 };
}

/** Exponential backoff: base, 2×base, 4×base… capped. */
export function backoffMs(policy: Step["retry"], failures: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failures - 1));
}

/**
 * When a failed step is tried again: its backoff, or the vendor's Retry-After when longer — clamped
 * to the step's largest backoff, so one `Retry-After: 86400` cannot park a job for a day.
 */
export function retryDelayMs(policy: Step["retry"], failures: number, retryAfterMs?: number): number {
  return Math.max(backoffMs(policy, failures), Math.min(retryAfterMs ?? 0, policy.maxDelayMs));
}
