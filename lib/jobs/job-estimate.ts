import { isPaused, isTerminal, type StoredJob } from "@/lib/jobs/job";

/**
 * What a person is told of a job's progress, from its plan (lib/jobs/job-plan.ts): pure, from the
 * record alone, so a view costs no store read beyond the job's.
 *
 * - `progress` (0–1): the finished steps' weights plus the current step's share of its weight, the
 *   time since its first create over its weight, capped at RUNNING_CAP. The weights are fixed with
 *   the plan, time only moves on and a step's first create time never moves, so progress never
 *   moves backwards between views of one job.
 * - `estimatedReadyAt`: the current task's expected end (from its create and its own expectation,
 *   fixed when it was sent), plus the later steps' latest expectations and a hand-off each. When the
 *   task runs past its expectation the estimate moves on with the clock (never in the past) and
 *   `runningLong` says so. Null without a basis: no plan, a paused look, a finished one.
 */

/** A step's own share never exceeds this before it is done: the next step's start is the next jump. */
const RUNNING_CAP = 0.95;
/** Per step, from a task's end to the next task's create: the check's lag, the copy, the hand-off. */
export const HANDOFF_MS = 600;
/** A task this much past its expectation is "running long". */
const LONG_SHARE = 1.25;
/** While running long, the estimate stays this share of the step's expectation ahead of now. */
const LONG_SLACK_SHARE = 0.2;
/** An estimate is never closer than this: a person reads "a moment", not a time already passed. */
const MIN_AHEAD_MS = 1_000;

export interface JobEstimate {
  progress: number;
  estimatedReadyAt: number | null;
  runningLong: boolean;
}

/** Rounded down, so a rounding never shows a later view lower than an earlier one. */
const floor3 = (value: number) => Math.floor(Math.min(1, Math.max(0, value)) * 1000) / 1000;

export function estimateJob(job: StoredJob, totalSteps: number, now: number): JobEstimate {
  if (job.status === "completed") return { progress: 1, estimatedReadyAt: null, runningLong: false };
  const plan = job.plan;
  const stepCounted = floor3(Math.min(job.stepIndex, totalSteps) / totalSteps);
  if (!plan || plan.weightsMs.length !== totalSteps) {
    return { progress: stepCounted, estimatedReadyAt: null, runningLong: false };
  }
  const i = job.stepIndex;
  const total = plan.weightsMs.reduce((sum, ms) => sum + ms, 0);
  const weight = plan.weightsMs[i] ?? 0;
  const before = plan.weightsMs.slice(0, i).reduce((sum, ms) => sum + ms, 0);
  const current = job.current;
  // A paused or failed job's clock stopped when it did; a running one's runs with now.
  const clock = isPaused(job) ? (current?.pausedAt ?? now) : job.status === "failed" ? job.updatedAt : now;
  const since = current?.firstSentAt ?? null;
  const share =
    since === null || weight === 0 ? 0 : Math.min(RUNNING_CAP, Math.max(0, clock - since) / weight);
  const progress = floor3((before + share * weight) / total);
  if (isTerminal(job.status) || isPaused(job) || !current) {
    return { progress, estimatedReadyAt: null, runningLong: false };
  }
  const expected = current.expectedMs ?? plan.expectedMs[i] ?? weight;
  let stepEnd: number;
  let runningLong = false;
  if (current.taskId !== null && current.sentAt !== null) {
    stepEnd = current.sentAt + expected;
    runningLong = now > current.sentAt + expected * LONG_SHARE;
    if (stepEnd < now) stepEnd = now + expected * LONG_SLACK_SHARE;
  } else {
    // Not sent yet (a backoff, a create in flight): it starts when next due, and takes its expectation.
    const expectedNext = plan.expectedMs[i] ?? expected;
    stepEnd = Math.max(now, job.nextCheckAt) + expectedNext;
  }
  const later = plan.expectedMs.slice(i + 1).reduce((sum, ms) => sum + ms + HANDOFF_MS, 0);
  const readyAt = Math.round(Math.max(now + MIN_AHEAD_MS, stepEnd + HANDOFF_MS + later));
  return { progress, estimatedReadyAt: readyAt, runningLong };
}
