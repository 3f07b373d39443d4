import { isPaused, isTerminal, type StoredJob } from "@/lib/jobs/job";
import { estimateJob } from "@/lib/jobs/job-estimate";
import { isOwnedBy } from "@/lib/jobs/ownership";
import { PIPELINE, TOTAL_STEPS } from "@/lib/jobs/pipeline";
import { type PublicJob, pollDelayFor } from "@/lib/public-job";

/** A look nobody watched stops before its next paid step (lib/jobs/unattended.ts). */
export const PAUSED_MESSAGE = "Paused until you open this look again: it carries on from where it stopped.";

/** Said when a step runs well past what its recent tasks took: the estimate keeps moving with the clock. */
export const RUNNING_LONG_NOTE = "This step is taking longer than usual.";

function statusMessage(job: StoredJob): string {
  if (job.status === "completed") return "Your look is ready.";
  if (job.status === "failed") return "We couldn't finish your look.";
  if (isPaused(job)) return PAUSED_MESSAGE;
  return PIPELINE[job.stepIndex]?.message ?? "Working on your look…";
}

function pollAfterMs(job: StoredJob, now: number): number | null {
  if (isTerminal(job.status)) return null;
  return pollDelayFor(job.nextCheckAt - now);
}

/** `ownerHash`: the caller's (lib/owners), null without an owner cookie. */
export function toPublicJob(job: StoredJob, now = Date.now(), ownerHash: string | null = null): PublicJob {
  const advice = job.artifacts.advice;
  const estimate = estimateJob(job, TOTAL_STEPS, now);
  const owned = isOwnedBy(job, ownerHash);
  return {
    jobId: job.id,
    status: job.status,
    statusMessage: estimate.runningLong ? `${statusMessage(job)} ${RUNNING_LONG_NOTE}` : statusMessage(job),
    imageUrl: job.status === "completed" ? (job.artifacts.final?.url ?? null) : null,
    // A shared link shows the look, never the photo it was made from.
    personImageUrl: owned ? job.inputs.person.url : null,
    error: job.status === "failed" ? job.error : null,
    errorCode: job.status === "failed" ? (job.errorCode ?? "internal") : null,
    owned,
    createdAt: new Date(job.createdAt).toISOString(),
    updatedAt: new Date(job.updatedAt).toISOString(),
    occasion: job.occasion,
    advice: advice ? { summary: advice.summary, pieces: advice.pieces, source: advice.source } : null,
    step: Math.min(job.stepIndex + 1, TOTAL_STEPS),
    totalSteps: TOTAL_STEPS,
    progress: estimate.progress,
    estimatedReadyAt:
      estimate.estimatedReadyAt === null ? null : new Date(estimate.estimatedReadyAt).toISOString(),
    pollAfterMs: pollAfterMs(job, now),
  };
}
