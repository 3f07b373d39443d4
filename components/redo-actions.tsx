"use client";

import { type FormEvent, useId, useState } from "react";
import { BUTTON } from "@/components/button-styles";
import { redoLook } from "@/components/look-actions";
import { ADVICE_BY_CODE, redoChoicesOf } from "@/components/redo-choice";
import type { PublicJob } from "@/lib/public-job";
import { MAX_OCCASION_CHARS } from "@/lib/start-rules";
import type { StepName } from "@/lib/step-catalogue";

interface RedoActionsProps {
  job: PublicJob;
  /** Opens the new look the redo started. */
  onOpenJob(jobId: string): void;
  /** The redo is the main way on (a failed look): its button is the primary one. */
  primary?: boolean;
  className?: string;
}

/**
 * The owner's "redo from a step" buttons: a new look that reuses this one's photos and every step
 * before the one redone (only the steps from there on are paid for again), and, where a new occasion
 * could help, a redo from the advice with it. Nothing for someone else's look.
 */
export function RedoActions({ job, onOpenJob, primary = false, className = "" }: RedoActionsProps) {
  const id = useId();
  const [pending, setPending] = useState<StepName | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [occasion, setOccasion] = useState("");
  if (!job.owned) return null;
  const choices = redoChoicesOf(job);
  const offerOccasion =
    job.status === "completed" ||
    (job.status === "failed" && ADVICE_BY_CODE[job.errorCode ?? "internal"].newOccasion);
  if (choices.length === 0 && !offerOccasion) return null;

  const redo = async (from: StepName, newOccasion?: string) => {
    setPending(from);
    setError(null);
    const outcome = await redoLook(job.jobId, from, newOccasion);
    setPending(null);
    if (outcome.ok) onOpenJob(outcome.value);
    else setError(outcome.message);
  };

  const onSubmitOccasion = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const trimmed = occasion.trim();
    if (trimmed && !pending) redo("advice", trimmed);
  };

  return (
    <div data-testid="redo-actions" className={`space-y-3 ${className}`}>
      {job.status === "completed" && (
        <h2 className="text-xs font-medium tracking-[0.16em] text-stone-500 uppercase">Not quite right?</h2>
      )}
      {choices.length > 0 && (
        <div className={`grid gap-3 ${choices.length > 1 ? "grid-cols-2" : ""}`}>
          {choices.map((choice) => (
            <button
              key={choice.from}
              type="button"
              className={primary ? BUTTON.primary : BUTTON.secondary}
              disabled={pending !== null}
              onClick={() => redo(choice.from)}
            >
              {pending === choice.from ? "Starting…" : choice.label}
            </button>
          ))}
        </div>
      )}
      {offerOccasion && (
        <details className="group rounded-2xl ring-1 ring-stone-200">
          <summary className="flex min-h-11 cursor-pointer items-center rounded-2xl px-4 text-sm font-medium text-stone-800 hover:bg-stone-50 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-stone-900">
            Style it for another occasion
          </summary>
          <form
            onSubmit={onSubmitOccasion}
            className="flex flex-col gap-3 px-4 pb-4 sm:flex-row sm:items-end"
          >
            <div className="min-w-0 flex-1">
              <label htmlFor={`${id}-occasion`} className="text-sm text-stone-700">
                New occasion
              </label>
              <input
                id={`${id}-occasion`}
                type="text"
                value={occasion}
                maxLength={MAX_OCCASION_CHARS}
                autoComplete="off"
                onChange={(event) => setOccasion(event.currentTarget.value)}
                className="mt-1.5 block w-full rounded-xl border-0 bg-white px-4 py-2.5 text-base text-stone-900 ring-1 ring-stone-300 ring-inset focus:ring-2 focus:ring-stone-900 focus:outline-none"
              />
            </div>
            <button type="submit" className={BUTTON.primary} disabled={pending !== null || !occasion.trim()}>
              {pending === "advice" ? "Starting…" : "Restyle for it"}
            </button>
          </form>
        </details>
      )}
      {error && (
        <p role="alert" data-testid="redo-error" className="text-sm text-red-700">
          {error}
        </p>
      )}
      <p className="text-xs leading-relaxed text-stone-500">
        A redo keeps your photos and the steps before it, so only the steps it redoes are paid for again.
      </p>
    </div>
  );
}
