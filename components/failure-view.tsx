import { BUTTON } from "@/components/button-styles";
import { AlertIcon } from "@/components/icons";
import { RedoActions } from "@/components/redo-actions";
import { ADVICE_BY_CODE } from "@/components/redo-choice";
import { ViewHeading } from "@/components/view-heading";
import type { PublicJob } from "@/lib/public-job";
import { STEPS } from "@/lib/step-catalogue";

interface FailureViewProps {
  job: PublicJob;
  /** Whether this browser still has the chosen photos, so "Try again" needs no new upload. */
  keepsPhotos: boolean;
  focusHeading: boolean;
  onTryAgain(): void;
  onStartOver(): void;
  /** Opens another look in the page (a redo's new look). */
  onOpenJob(jobId: string): void;
}

/** A failed job: its error, where it stopped, and a way back that keeps the chosen photos. */
export function FailureView({
  job,
  keepsPhotos,
  focusHeading,
  onTryAgain,
  onStartOver,
  onOpenJob,
}: FailureViewProps) {
  const failedStep = STEPS[job.step - 1]?.progressLabel;
  const cancelled = job.errorCode === "cancelled";
  // The next action that fits why it failed; only the owner can act on their own look.
  const advice = job.owned ? ADVICE_BY_CODE[job.errorCode ?? "internal"] : null;
  // Back to the form, photos and occasion kept: named for what it is next to a redo of the step.
  const tryAgainLabel = advice?.newPhoto
    ? "Choose a different photo"
    : advice?.retryStep
      ? "Change photos or occasion"
      : "Try again";
  return (
    <section data-testid="failure-view" data-job={job.jobId} className="mx-auto max-w-xl">
      <span className="flex size-11 items-center justify-center rounded-full bg-red-50 text-red-700 ring-1 ring-red-200">
        <AlertIcon className="size-5" />
      </span>
      <ViewHeading focus={focusHeading} className="mt-5">
        {cancelled ? "You cancelled this look" : "We couldn’t finish your look"}
      </ViewHeading>
      <div className="mt-6 rounded-3xl bg-white p-5 shadow-sm ring-1 ring-stone-200/80 sm:p-7">
        <p data-testid="failure-message" className="text-base leading-relaxed text-stone-900">
          {job.error ?? "Something went wrong while making your look."}
        </p>
        <dl className="mt-4 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm text-stone-500">
          {failedStep && (
            <>
              <dt>{cancelled ? "Stopped during" : "Stopped at"}</dt>
              <dd className="text-stone-700">{failedStep}</dd>
            </>
          )}
          <dt>Occasion</dt>
          <dd className="text-stone-700">{job.occasion}</dd>
        </dl>
      </div>
      {advice && (
        <div className="mt-6 space-y-4">
          <p data-testid="failure-advice" className="text-base leading-relaxed text-stone-700">
            {advice.hint}
          </p>
          <RedoActions job={job} onOpenJob={onOpenJob} primary />
        </div>
      )}
      <p className="mt-6 text-sm text-stone-500">
        {keepsPhotos
          ? "Your photos and the occasion are kept, so you can try again straight away."
          : "The occasion is kept; you will need to choose your photos again."}
      </p>
      <div className="mt-4 flex flex-col gap-3 sm:flex-row">
        <button
          type="button"
          onClick={onTryAgain}
          className={advice?.retryStep ? BUTTON.secondary : BUTTON.primary}
        >
          {tryAgainLabel}
        </button>
        <button type="button" onClick={onStartOver} className={BUTTON.secondary}>
          Start over
        </button>
      </div>
    </section>
  );
}
