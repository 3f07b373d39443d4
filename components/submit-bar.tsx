"use client";

import { useEffect, useRef } from "react";
import { BUTTON } from "@/components/button-styles";
import { Spinner } from "@/components/icons";

interface SubmitBarProps {
  /** Why the form cannot be sent yet; null when it can. */
  reason: string | null;
  /** Fraction of the upload sent, or null when no upload is running. */
  uploadFraction: number | null;
  /** Why the last start failed. */
  error: string | null;
}

/** The submit button, the reason it is disabled, upload progress and a failed start's message. */
export function SubmitBar({ reason, uploadFraction, error }: SubmitBarProps) {
  const errorRef = useRef<HTMLParagraphElement>(null);
  const uploading = uploadFraction !== null;
  const percent = Math.round((uploadFraction ?? 0) * 100);

  // The form is disabled while uploading, which drops focus; a failed start hands it to the reason.
  useEffect(() => {
    if (error) errorRef.current?.focus();
  }, [error]);

  return (
    <div className="space-y-4 border-t border-stone-200 pt-6">
      {error && !uploading && (
        <p
          ref={errorRef}
          tabIndex={-1}
          role="alert"
          data-testid="start-error"
          className="rounded-xl bg-red-50 px-4 py-3 text-sm text-red-800 ring-1 ring-red-200 outline-none ring-inset"
        >
          {error}
        </p>
      )}
      <div className="flex flex-col gap-3 sm:flex-row-reverse sm:items-center sm:justify-between">
        <button
          type="submit"
          disabled={reason !== null || uploading}
          aria-describedby="submit-status"
          className={`${BUTTON.primary} w-full sm:w-auto`}
        >
          {uploading && <Spinner className="size-4" />}
          Get Styling Advice
        </button>
        <p id="submit-status" data-testid="submit-reason" className="text-sm text-stone-500">
          {uploading
            ? `Uploading your photos… ${percent}%`
            : (reason ?? "All set. It takes a minute or two.")}
        </p>
      </div>
      {uploading && (
        <div
          role="progressbar"
          aria-label="Upload"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent}
          data-testid="upload-progress"
          className="h-1.5 overflow-hidden rounded-full bg-stone-200"
        >
          <div
            className="h-full rounded-full bg-orange-800 transition-[width] motion-reduce:transition-none"
            style={{ width: `${percent}%` }}
          />
        </div>
      )}
    </div>
  );
}
