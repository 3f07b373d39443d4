"use client";

import { useEffect, useState } from "react";
import type { PublicJob } from "@/lib/jobs/public-view";

/** Polls a job's status with a setTimeout chain (requests never overlap) until it finishes. */
export function useJobStatus(jobId: string | null): { job: PublicJob | null; problem: string | null } {
  const [job, setJob] = useState<PublicJob | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    if (!jobId) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const controller = new AbortController();

    const poll = async () => {
      let delay = 2_000;
      try {
        const response = await fetch(`/api/generation/status?jobId=${encodeURIComponent(jobId)}`, {
          signal: controller.signal,
          cache: "no-store",
        });
        const body = await response.json();
        if (!response.ok) {
          setProblem(body.error ?? "The job could not be read.");
          if (response.status === 404 || response.status === 400) return;
        } else {
          setProblem(null);
          setJob(body as PublicJob);
          if (body.pollAfterMs === null) return;
          delay = Math.min(5_000, Math.max(1_000, body.pollAfterMs));
        }
      } catch {
        if (stopped) return;
        setProblem("Reconnecting…");
        delay = 5_000;
      }
      if (!stopped) timer = setTimeout(poll, delay);
    };
    poll();
    return () => {
      stopped = true;
      controller.abort();
      clearTimeout(timer);
    };
  }, [jobId]);

  return { job, problem };
}
