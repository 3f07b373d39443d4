"use client";

import { CancelLook } from "@/components/cancel-look";
import { AlertIcon } from "@/components/icons";
import { formatElapsed } from "@/components/job-steps";
import { LookProgress } from "@/components/look-progress";
import { ProgressStepper } from "@/components/progress-stepper";
import { ViewHeading } from "@/components/view-heading";
import { useNow } from "@/hooks/use-now";
import type { PublicJob } from "@/lib/public-job";
import { STEPS, stepIndexOfStatus } from "@/lib/step-catalogue";

interface ProgressViewProps {
  /** Null until the first status answer arrives. */
  job: PublicJob | null;
  reconnecting: boolean;
  clockOffsetMs: number;
  /** Previews of the photos, when this browser still has them. */
  thumbnails: { person: string | null; garment: string | null };
  focusHeading: boolean;
  /** The look was cancelled from here: its view (failed, "cancelled"), to show at once. */
  onCancelled(job: PublicJob): void;
}

/** The waiting view: the stepper, the server's message, elapsed time, a progress bar and the time left. */
export function ProgressView({
  job,
  reconnecting,
  clockOffsetMs,
  thumbnails,
  focusHeading,
  onCancelled,
}: ProgressViewProps) {
  const now = useNow(1_000);
  const current = job ? (stepIndexOfStatus(job.status) ?? 0) : 0;
  const createdAt = job ? Date.parse(job.createdAt) : null;
  const elapsedMs = createdAt === null ? 0 : now + clockOffsetMs - createdAt;
  const stepNumber = Math.min(current + 1, STEPS.length);
  const label = STEPS[current]?.progressLabel ?? "Starting";

  return (
    <section data-testid="progress-view" data-status={job?.status ?? "starting"} className="mx-auto max-w-xl">
      {job && (
        <p className="text-sm text-stone-500">
          For <span className="font-medium text-stone-700">“{job.occasion}”</span>
        </p>
      )}
      <ViewHeading focus={focusHeading} className="mt-2">
        Creating your look
      </ViewHeading>
      <p data-testid="status-message" className="mt-3 min-h-6 text-base text-stone-600">
        {job?.statusMessage ?? "Starting your look…"}
      </p>

      <div className="mt-8 rounded-3xl bg-white p-5 shadow-sm ring-1 ring-stone-200/80 sm:p-7">
        <div className="flex items-baseline justify-between gap-4 text-sm">
          <p className="font-medium text-stone-900">
            Step {stepNumber} of {STEPS.length}
          </p>
          <p className="text-stone-500 tabular-nums">
            <span className="sr-only">Elapsed time </span>
            <span data-testid="elapsed">{formatElapsed(elapsedMs)}</span>
          </p>
        </div>
        <LookProgress
          job={job}
          clockOffsetMs={clockOffsetMs}
          stepText={`Step ${stepNumber} of ${STEPS.length}: ${label}`}
        />

        <div className="mt-6">
          <ProgressStepper current={current} />
        </div>

        {reconnecting && (
          <p
            data-testid="reconnecting"
            className="mt-5 flex items-center gap-2 rounded-xl bg-amber-50 px-4 py-3 text-sm text-amber-900 ring-1 ring-amber-200 ring-inset"
          >
            <AlertIcon className="size-4 shrink-0" />
            Reconnecting… Your look keeps going on our side.
          </p>
        )}
      </div>

      <div className="mt-6 flex items-center gap-4">
        {(thumbnails.person || thumbnails.garment) && (
          <div className="flex shrink-0 gap-1.5">
            {[thumbnails.person, thumbnails.garment].map((src, index) =>
              src ? (
                // biome-ignore lint/performance/noImgElement: a local object URL; next/image cannot optimise it.
                <img
                  key={src}
                  src={src}
                  alt=""
                  className={`size-12 rounded-xl ring-1 ring-stone-200 ${index ? "bg-white object-contain p-1" : "object-cover"}`}
                />
              ) : null,
            )}
          </div>
        )}
        <p className="text-sm leading-relaxed text-stone-500">
          This usually takes a minute or two. You can leave this page: its address brings you back to your
          look.
        </p>
      </div>

      {job?.owned && (
        <div className="mt-8">
          <CancelLook job={job} onCancelled={onCancelled} />
        </div>
      )}
    </section>
  );
}
