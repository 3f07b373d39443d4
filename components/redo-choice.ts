import type { JobErrorCode } from "@/lib/job-errors";
import type { PublicJob } from "@/lib/public-job";
import { STEP_NAMES, STEPS, type StepName } from "@/lib/step-catalogue";

/** One "redo from a step" button: the step the new look starts at, and what the button says. */
export interface RedoChoice {
  from: StepName;
  label: string;
}

/** What a failed look's owner is told to do next, by why it failed. */
export interface FailureAdvice {
  /** One sentence: the next action that fits this failure. */
  hint: string;
  /** Redoing the step that failed, with the same photos and occasion, can work. */
  retryStep: boolean;
  /** The fix is another photo: the form is the way on. */
  newPhoto: boolean;
  /** Another occasion (a redo from the advice) may get past the refusal. */
  newOccasion: boolean;
}

export const ADVICE_BY_CODE: Record<JobErrorCode, FailureAdvice> = {
  cancelled: {
    hint: "You can carry on from where it stopped: the steps already finished are kept.",
    retryStep: true,
    newPhoto: false,
    newOccasion: false,
  },
  timed_out: {
    hint: "The AI service was too slow this time. Trying again later usually works.",
    retryStep: true,
    newPhoto: false,
    newOccasion: false,
  },
  provider_unavailable: {
    hint: "The AI service is busy or unavailable right now. Please try again in a few minutes.",
    retryStep: true,
    newPhoto: false,
    newOccasion: false,
  },
  content_policy: {
    hint: "The AI service refused these photos or this occasion. A different photo or occasion may work.",
    retryStep: false,
    newPhoto: true,
    newOccasion: true,
  },
  unusable_photo: {
    hint: "This photo can’t be used. Please choose a different one: front-facing, head to hips, good light.",
    retryStep: false,
    newPhoto: true,
    newOccasion: false,
  },
  internal: {
    hint: "Something went wrong on our side. Trying the step again usually works.",
    retryStep: true,
    newPhoto: false,
    newOccasion: false,
  },
};

/** The step a failed look stopped at (`step` is 1-based), or null when the view does not say. */
export function failedStepOf(job: Pick<PublicJob, "status" | "step">): StepName | null {
  if (job.status !== "failed") return null;
  return STEP_NAMES[job.step - 1] ?? null;
}

/**
 * The redo buttons a look's owner gets: a finished look can be tried on again or restyled; a failed
 * one can redo the step it stopped at when that can help (not when the photo is the problem).
 * Someone else's look (a shared link) gets none.
 */
export function redoChoicesOf(job: Pick<PublicJob, "status" | "step" | "owned" | "errorCode">): RedoChoice[] {
  if (!job.owned) return [];
  if (job.status === "completed") {
    return [
      { from: "tryon", label: "Try it on again" },
      { from: "style", label: "Restyle" },
    ];
  }
  const failed = failedStepOf(job);
  if (!failed || !ADVICE_BY_CODE[job.errorCode ?? "internal"].retryStep) return [];
  const step = STEPS[job.step - 1];
  if (job.errorCode === "cancelled") return [{ from: failed, label: "Carry on from where it stopped" }];
  return [{ from: failed, label: step ? `Retry “${step.progressLabel}”` : "Retry this step" }];
}
