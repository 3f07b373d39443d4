"use client";

import { type FormEvent, useState } from "react";
import { useJobStatus } from "@/hooks/use-job-status";

/** The minimal studio: two photos and an occasion in, live status, then the look and the advice. */
export function Studio() {
  const [jobId, setJobId] = useState<string | null>(null);
  const [submitError, setSubmitError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const { job, problem } = useJobStatus(jobId);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setSubmitting(true);
    setSubmitError(null);
    try {
      const response = await fetch("/api/generation/start", {
        method: "POST",
        body: new FormData(event.currentTarget),
      });
      const body = await response.json();
      if (!response.ok) setSubmitError(body.error ?? "The look could not be started.");
      else setJobId(body.jobId);
    } catch {
      setSubmitError("The server could not be reached. Please try again.");
    } finally {
      setSubmitting(false);
    }
  }

  return (
    <div className="space-y-8">
      <form onSubmit={onSubmit} className="space-y-4 rounded-2xl bg-white p-6 shadow-sm">
        <label className="block">
          <span className="font-medium">Your photo</span>
          <input
            name="human_image"
            type="file"
            accept="image/jpeg,image/png,image/webp"
            required
            className="mt-1 block w-full"
          />
        </label>
        <label className="block">
          <span className="font-medium">Garment photo</span>
          <input
            name="garment_image"
            type="file"
            accept="image/jpeg,image/png,image/webp"
            required
            className="mt-1 block w-full"
          />
        </label>
        <label className="block">
          <span className="font-medium">Occasion</span>
          <input
            name="occasion"
            type="text"
            required
            maxLength={200}
            placeholder="Summer wedding guest"
            className="mt-1 block w-full rounded-lg border border-stone-300 px-3 py-2"
          />
        </label>
        <button
          type="submit"
          disabled={submitting}
          className="rounded-lg bg-stone-900 px-4 py-2 font-medium text-white disabled:opacity-50"
        >
          Get Styling Advice
        </button>
        {submitError && (
          <p role="alert" className="text-red-700">
            {submitError}
          </p>
        )}
      </form>

      {jobId && (
        <section
          aria-live="polite"
          className="space-y-4 rounded-2xl bg-white p-6 shadow-sm"
          data-testid="job"
        >
          <p data-testid="job-status" data-status={job?.status ?? "starting"}>
            {job ? `Step ${job.step} of ${job.totalSteps}: ${job.statusMessage}` : "Starting…"}
          </p>
          {problem && <p className="text-amber-700">{problem}</p>}
          {job?.status === "failed" && (
            <p role="alert" className="text-red-700">
              {job.error}
            </p>
          )}
          {job?.imageUrl && (
            // biome-ignore lint/performance/noImgElement: our own stored image, already sized; next/image adds nothing here.
            <img
              src={job.imageUrl}
              alt={`Your styled look for ${job.occasion}`}
              className="w-full max-w-md rounded-xl"
            />
          )}
          {job?.advice && (
            <div className="space-y-2">
              <p>{job.advice.summary}</p>
              <ul className="list-disc pl-6">
                {job.advice.pieces.map((piece) => (
                  <li key={piece}>{piece}</li>
                ))}
              </ul>
            </div>
          )}
        </section>
      )}
    </div>
  );
}
