"use client";

import { type JobPolling, type JobUpdate, startJobPolling, useJobState } from "@/hooks/use-job-polling";
import { publicJobSchema } from "@/lib/public-job";

/** The server sends the job at once: none within this means a proxy holds the stream back. */
export const FIRST_EVENT_MS = 4_000;
/** The browser reconnects by itself after the server's planned close; longer than this, poll. */
export const RECONNECT_MS = 5_000;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Follows a job on its event stream (GET /api/generation/events), which the server advances while it
 * is open, so a watched look needs no polls at all. Falls back to polling (startJobPolling) for good
 * when the stream fails: an answer that is not a stream (404, 503), an event it cannot parse, no
 * first event within FIRST_EVENT_MS (a buffering proxy), or no reconnect within RECONNECT_MS. Closes
 * the stream while the tab is hidden and once the job is finished; the function it returns leaves
 * no stream, timer or poll behind.
 */
export function startJobUpdates(jobId: string, update: JobUpdate): () => void {
  if (typeof EventSource === "undefined") return startJobPolling(jobId, update);
  let source: EventSource | null = null;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  let stopPolling: (() => void) | null = null;
  let stopped = false;
  let finished = false;
  // Versions already shown: a stream reopened after the tab was hidden starts with the current one.
  let lastVersion = -1;

  const closeStream = () => {
    clearTimeout(watchdog);
    source?.close();
    source = null;
  };

  const fallBack = () => {
    closeStream();
    if (!stopped && !finished && !stopPolling) stopPolling = startJobPolling(jobId, update);
  };

  const openStream = () => {
    if (stopped || finished || stopPolling || source || document.hidden) return;
    const stream = new EventSource(`/api/generation/events?jobId=${encodeURIComponent(jobId)}`);
    source = stream;
    let heardJob = false;
    watchdog = setTimeout(fallBack, FIRST_EVENT_MS);

    stream.addEventListener("clock", (event: MessageEvent<string>) => {
      const now = (parseJson(event.data) as { now?: unknown } | null)?.now;
      if (typeof now === "number") update({ clockOffsetMs: now - Date.now() });
    });
    stream.addEventListener("job", (event: MessageEvent<string>) => {
      const parsed = publicJobSchema.safeParse(parseJson(event.data));
      if (!parsed.success) return fallBack();
      heardJob = true;
      clearTimeout(watchdog);
      const version = Number(event.lastEventId);
      if (Number.isFinite(version) && version <= lastVersion) return;
      lastVersion = version;
      const job = parsed.data;
      finished = job.status === "completed" || job.status === "failed";
      update({ job, reconnecting: false });
      if (finished) closeStream();
    });
    stream.addEventListener("open", () => {
      // A reconnect answered: the stream goes on (its first event may be a while: nothing is new).
      if (heardJob) clearTimeout(watchdog);
    });
    stream.addEventListener("error", () => {
      if (stopped || finished || source !== stream) return;
      if (stream.readyState === EventSource.CLOSED) return fallBack();
      if (!heardJob) return; // the first-event watchdog is already running
      clearTimeout(watchdog);
      watchdog = setTimeout(fallBack, RECONNECT_MS);
    });
  };

  const onVisibilityChange = () => {
    if (stopPolling) return; // polling pauses and resumes by itself
    if (document.hidden) closeStream();
    else openStream();
  };

  document.addEventListener("visibilitychange", onVisibilityChange);
  openStream();
  return () => {
    stopped = true;
    closeStream();
    stopPolling?.();
    document.removeEventListener("visibilitychange", onVisibilityChange);
  };
}

/** The job's state from its event stream, or from polling once the stream has failed. */
export function useJobUpdates(jobId: string | null): JobPolling {
  return useJobState(jobId, startJobUpdates);
}
