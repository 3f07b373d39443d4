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

/** Saves the intent to submit before calling the provider, so a lost answer is recovered, not repeated. */
export function markSubmitting(job: StoredJob, now: number): StoredJob {
  return withCurrent(job, { submittingAt: now }, job.nextCheckAt);
}

export function recordTask(job: StoredJob, taskId: string, nextCheckAt: number): StoredJob {
  return withCurrent(job, { taskId, submittingAt: null }, nextCheckAt);
}

export function scheduleCheck(job: StoredJob, nextCheckAt: number): StoredJob {
  return { ...job, nextCheckAt };
}

/** Where a failure happened decides what a retry repeats. */
export type FailurePhase = "submit" | "check" | "task";

export function retryLater(
  job: StoredJob,
  phase: FailurePhase,
  failure: { failures: number; lastError: string; at: number },
): StoredJob {
  const { failures, lastError, at } = failure;
  switch (phase) {
    // The submit's outcome is unknown: keep the intent, so the next try looks for the task first.
    case "submit":
      return withCurrent(job, { failures, lastError }, at);
    // Reading the task (or saving its result) failed: the task itself stands, check it again.
    case "check":
      return withCurrent(job, { failures, lastError }, at);
    // The provider's task failed: a new attempt, with a new idempotency key.
    case "task": {
      const attempt = (job.current?.attempt ?? 0) + 1;
      return withCurrent(job, { failures, lastError, attempt, taskId: null, submittingAt: null }, at);
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

export function failJob(job: StoredJob, message: string): StoredJob {
  return { ...job, status: "failed", error: message, nextCheckAt: 0 };
}

/** Exponential backoff: base, 2×base, 4×base… capped. */
export function backoffMs(policy: Step["retry"], failures: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failures - 1));
}
