"use client";

import { useState } from "react";
import { barFraction, estimateText, nextAnchor } from "@/components/progress-estimate";
import { useNow } from "@/hooks/use-now";
import type { PublicJob } from "@/lib/public-job";

interface LookProgressProps {
  /** Null until the first view arrives. */
  job: PublicJob | null;
  clockOffsetMs: number;
  /** "Step 2 of 4: Styling your look", for the bar's accessible value. */
  stepText: string;
}

/**
 * The progress bar, moving smoothly between the server's views (progress-estimate.ts), and the time
 * left when the server has an estimate: none is shown without one.
 */
export function LookProgress({ job, clockOffsetMs, stepText }: LookProgressProps) {
  const now = useNow(500);
  const [anchor, setAnchor] = useState(() => nextAnchor(null, job, clockOffsetMs, now));
  if (anchor.job !== job) setAnchor(nextAnchor(anchor, job, clockOffsetMs, Date.now()));
  const percent = Math.round(barFraction(anchor, now) * 1000) / 10;
  const estimate = estimateText(anchor, now);

  return (
    <>
      <div
        role="progressbar"
        aria-label="Progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.floor(percent)}
        aria-valuetext={estimate ? `${stepText}. ${estimate}` : stepText}
        data-testid="look-progress"
        className="mt-3 h-2 overflow-hidden rounded-full bg-stone-100"
      >
        <div
          className="h-full rounded-full bg-orange-800 transition-[width] duration-500 ease-linear motion-reduce:transition-none"
          style={{ width: `${percent}%` }}
        />
      </div>
      {estimate && (
        <p data-testid="estimate" className="mt-2 text-sm text-stone-600">
          {estimate}
        </p>
      )}
    </>
  );
}
