"use client";

import { useEffect, useRef, useState } from "react";
import { BUTTON } from "@/components/button-styles";
import { type DeleteOutcome, sendDelete } from "@/components/delete-request";

interface DeleteActionProps {
  /** The button that opens the confirmation, e.g. "Delete this look". */
  label: string;
  /** The confirmation's question and the sentence naming what is deleted. */
  question: string;
  consequence: string;
  /** The owner API address the DELETE goes to. */
  path: string;
  testId: string;
  onDeleted(): void;
}

/**
 * A delete with a confirmation: the button opens a short question naming what goes, with "Delete"
 * focused and "Keep it" beside it (Escape keeps it too). Keyboard-operable throughout.
 */
export function DeleteAction({ label, question, consequence, path, testId, onDeleted }: DeleteActionProps) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const openRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);

  const keep = () => {
    setConfirming(false);
    setError(null);
    // Focus goes back where it came from, not to the top of the page.
    requestAnimationFrame(() => openRef.current?.focus());
  };

  const confirm = async () => {
    setBusy(true);
    setError(null);
    const outcome: DeleteOutcome = await sendDelete(path);
    setBusy(false);
    if (outcome.ok) {
      setConfirming(false);
      onDeleted();
    } else {
      setError(outcome.message);
    }
  };

  if (!confirming) {
    return (
      <button
        ref={openRef}
        type="button"
        data-testid={testId}
        onClick={() => setConfirming(true)}
        className={`${BUTTON.quiet} text-red-800`}
      >
        {label}
      </button>
    );
  }
  return (
    <div
      role="alertdialog"
      aria-labelledby={`${testId}-question`}
      aria-describedby={`${testId}-consequence`}
      data-testid={`${testId}-confirm`}
      onKeyDown={(event) => {
        if (event.key === "Escape") keep();
      }}
      className="rounded-2xl bg-red-50 p-4 text-sm ring-1 ring-red-200 ring-inset"
    >
      <p id={`${testId}-question`} className="font-medium text-red-900">
        {question}
      </p>
      <p id={`${testId}-consequence`} className="mt-1 text-red-900">
        {consequence}
      </p>
      {error && (
        <p role="alert" className="mt-2 text-red-800">
          {error}
        </p>
      )}
      <div className="mt-3 flex gap-3">
        <button
          ref={confirmRef}
          type="button"
          disabled={busy}
          onClick={confirm}
          className={`${BUTTON.primary} bg-red-800 hover:bg-red-700`}
        >
          {busy ? "Deleting…" : "Delete"}
        </button>
        <button type="button" disabled={busy} onClick={keep} className={BUTTON.secondary}>
          Keep it
        </button>
      </div>
    </div>
  );
}
