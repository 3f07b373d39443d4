"use client";

import { fetchStatus } from "@/hooks/fetch-status";
import type { JobUpdate } from "@/hooks/use-job-polling";

/**
 * How often a finished look on screen asks for its view again. With a private Blob store its image
 * addresses are signed for about 15 minutes (DEFAULT_VIEW_URL_TTL_MS): a page left open longer would
 * keep its pictures but its Download link, and a Compare opened later, would be dead. Each fresh view
 * is signed anew.
 */
export const VIEW_REFRESH_MS = 10 * 60_000;

/**
 * Refetches a finished job's view every VIEW_REFRESH_MS while the tab is visible (at once when it
 * comes back overdue), one request at a time; a look deleted or expired meanwhile becomes `missing`.
 * A failed request waits for the next turn. The function it returns leaves no timer or request.
 */
export function startViewRefresh(jobId: string, update: JobUpdate): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let controller: AbortController | null = null;
  let fetchedAt = Date.now();
  let stopped = false;

  const schedule = () => {
    clearTimeout(timer);
    timer = undefined;
    if (stopped || document.hidden || controller) return;
    timer = setTimeout(refresh, Math.max(0, fetchedAt + VIEW_REFRESH_MS - Date.now()));
  };

  const refresh = async () => {
    timer = undefined;
    controller = new AbortController();
    try {
      const { response, parsed } = await fetchStatus(jobId, controller.signal);
      if (stopped) return;
      if (response.ok && parsed.success) update({ job: parsed.data });
      else if (response.status === 404) update({ missing: true });
    } catch {
      // Offline or aborted: the next turn tries again.
    } finally {
      controller = null;
      fetchedAt = Date.now();
    }
    schedule();
  };

  document.addEventListener("visibilitychange", schedule);
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller?.abort();
    document.removeEventListener("visibilitychange", schedule);
  };
}
