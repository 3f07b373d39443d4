"use client";

import { useRef, useState } from "react";
import { BUTTON } from "@/components/button-styles";
import { chargeNoticeOf, chargeSentencesOf } from "@/components/cancel-terms";
import { cancelLook } from "@/components/look-actions";
import type { PublicJob } from "@/lib/public-job";

interface CancelLookProps {
  job: PublicJob;
  /** The look's view once cancelled (failed, errorCode "cancelled"), to show at once. */
  onCancelled(job: PublicJob): void;
}

/**
 * The owner's Cancel on the progress view: a confirmation (a modal <dialog>: focus stays in it, Escape
 * closes it) that says what was paid for, what may still be, and what never will be.
 */
export function CancelLook({ job, onCancelled }: CancelLookProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const sentences = chargeSentencesOf(chargeNoticeOf(job));

  const close = () => {
    dialog.current?.close();
    opener.current?.focus();
  };

  const confirm = async () => {
    setPending(true);
    setError(null);
    const outcome = await cancelLook(job.jobId);
    setPending(false);
    if (!outcome.ok) {
      setError(outcome.message);
      return;
    }
    dialog.current?.close();
    onCancelled(outcome.value);
  };

  return (
    <>
      <button
        ref={opener}
        type="button"
        className={BUTTON.secondary}
        onClick={() => {
          setError(null);
          dialog.current?.showModal();
        }}
      >
        Cancel this look
      </button>
      <dialog
        ref={dialog}
        aria-labelledby="cancel-look-heading"
        aria-describedby="cancel-look-terms"
        data-testid="cancel-dialog"
        onCancel={(event) => {
          // Escape: closed by hand, so focus goes back to the button that opened it.
          event.preventDefault();
          close();
        }}
        className="m-auto w-[calc(100%-2.5rem)] max-w-md rounded-3xl bg-white p-6 text-stone-700 shadow-xl backdrop:bg-stone-900/40 sm:p-7"
      >
        <h2
          id="cancel-look-heading"
          className="font-serif text-2xl font-medium tracking-tight text-stone-900"
        >
          Cancel this look?
        </h2>
        <div
          id="cancel-look-terms"
          data-testid="cancel-terms"
          className="mt-3 space-y-2 text-sm leading-relaxed"
        >
          {sentences.map((sentence) => (
            <p key={sentence}>{sentence}</p>
          ))}
          <p>You can carry on from where it stopped later.</p>
        </div>
        {error && (
          <p role="alert" className="mt-4 text-sm text-red-700">
            {error}
          </p>
        )}
        <div className="mt-6 flex flex-col gap-3 sm:flex-row sm:justify-end">
          {/* First in the dialog, so showModal() gives it the focus: the safe choice. */}
          <button type="button" className={BUTTON.secondary} onClick={close}>
            Keep going
          </button>
          <button type="button" className={BUTTON.primary} onClick={confirm} disabled={pending}>
            {pending ? "Cancelling…" : "Yes, cancel it"}
          </button>
        </div>
      </dialog>
    </>
  );
}
