"use client";

import { useEffect, useState } from "react";
import { z } from "zod";
import { MAX_POLL_MS, type PublicJob, publicJobSchema } from "@/lib/public-job";

const myLooksSchema = z.object({ jobs: z.array(publicJobSchema) });

export interface MyLooks {
  /** This browser's looks, newest first; null until the first answer (a failed fetch keeps the last). */
  looks: PublicJob[] | null;
}

function inProgress(job: PublicJob): boolean {
  return job.status !== "completed" && job.status !== "failed";
}

/**
 * The owner's looks from `GET /api/generation/jobs` (the owner cookie says whose). Fetched on mount,
 * whenever `key` changes (the page opened a look, or the one shown changed status: a start, a cancel,
 * a redo), and every MAX_POLL_MS while one of them is still in progress and the tab is visible; one
 * request at a time, nothing left behind on unmount.
 */
export function useMyLooks(key: string): MyLooks {
  const [looks, setLooks] = useState<PublicJob[] | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new key is what makes it fetch again.
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let loading = false;
    // A failed fetch is tried again only while a look was known to be running (its card should move).
    let running = false;
    const controller = new AbortController();

    const load = async () => {
      timer = undefined;
      if (document.hidden || loading) return;
      loading = true;
      let answer: PublicJob[] | null = null;
      try {
        const response = await fetch("/api/generation/jobs", {
          cache: "no-store",
          signal: controller.signal,
        });
        const parsed = myLooksSchema.safeParse(await response.json().catch(() => null));
        if (response.ok && parsed.success) answer = parsed.data.jobs;
      } catch {
        // Offline or aborted: keep what is shown.
      }
      loading = false;
      if (stopped) return;
      if (answer) {
        setLooks(answer);
        running = answer.some(inProgress);
      }
      if (running) timer = setTimeout(load, MAX_POLL_MS);
    };

    const onVisibilityChange = () => {
      if (!document.hidden && !timer) load();
    };
    document.addEventListener("visibilitychange", onVisibilityChange);
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
      document.removeEventListener("visibilitychange", onVisibilityChange);
    };
  }, [key]);

  return { looks };
}
