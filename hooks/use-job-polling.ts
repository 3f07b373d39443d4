"use client";

import { useEffect, useState } from "react";
import { fetchStatus } from "@/hooks/fetch-status";
import { startViewRefresh } from "@/hooks/view-refresh";
import { clampPollDelay, MAX_POLL_MS, type PublicJob } from "@/lib/public-job";

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 15_000;

export interface JobPolling {
  job: PublicJob | null;
  /** The job will never load (unknown, expired or malformed id); polling has stopped. */
  missing: boolean;
  /** The last poll failed (network or server trouble); the next one is backing off. */
  reconnecting: boolean;
  /** Server clock minus this browser's clock, so elapsed time counts from the server's createdAt. */
  clockOffsetMs: number;
}

const IDLE: JobPolling = { job: null, missing: false, reconnecting: false, clockOffsetMs: 0 };

/** 1 s, 2 s, 4 s … up to 15 s after consecutive failures. */
export function retryDelay(failures: number): number {
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1));
}

function clockOffsetOf(response: Response): number | null {
  const serverNow = Date.parse(response.headers.get("date") ?? "");
  // The Date header has whole seconds: its midpoint is the best guess.
  return Number.isNaN(serverNow) ? null : serverNow + 500 - Date.now();
}

/** Receives the polling's news: a patch of the hook's state. */
export type JobUpdate = (patch: Partial<JobPolling>) => void;

/**
 * Polls a job's status as a setTimeout chain (requests never overlap) at the server's pollAfterMs,
 * clamped to 1–5 s (lib/public-job.ts), and parses each answer with the public job's schema. Pauses
 * while the tab is hidden, backs off on network or server errors, stops when the job finishes or
 * cannot be found, and the function it returns leaves no timer or request behind. Framework-free, so
 * the event-stream hook (use-job-updates.ts) can fall back to it.
 */
export function startJobPolling(jobId: string, update: JobUpdate): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let controller: AbortController | null = null;
  let stopped = false;
  let finished = false;
  let failures = 0;

  const schedule = (delayMs: number) => {
    if (stopped || finished || document.hidden) return;
    timer = setTimeout(poll, delayMs);
  };

  const poll = async () => {
    timer = undefined;
    if (stopped || finished || controller) return;
    controller = new AbortController();
    let nextDelay: number;
    try {
      const { response, parsed } = await fetchStatus(jobId, controller.signal);
      if (stopped) return;
      if (response.ok && parsed.success) {
        const job = parsed.data;
        failures = 0;
        finished = job.pollAfterMs === null || job.status === "completed" || job.status === "failed";
        const offset = clockOffsetOf(response);
        update({ job, reconnecting: false, ...(offset === null ? {} : { clockOffsetMs: offset }) });
        nextDelay = clampPollDelay(job.pollAfterMs ?? MAX_POLL_MS);
      } else if (response.status === 404 || response.status === 400) {
        finished = true;
        update({ missing: true });
        return;
      } else {
        // 5xx, 429 or a proxy's error page: the job may well be fine, so keep trying, more slowly.
        failures++;
        update({ reconnecting: true });
        nextDelay = retryDelay(failures);
      }
    } catch {
      if (stopped) return;
      failures++;
      update({ reconnecting: true });
      nextDelay = retryDelay(failures);
    } finally {
      controller = null;
    }
    schedule(nextDelay);
  };

  const onVisibilityChange = () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = undefined;
    } else if (!timer && !controller) {
      poll();
    }
  };

  document.addEventListener("visibilitychange", onVisibilityChange);
  if (!document.hidden) poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller?.abort();
    document.removeEventListener("visibilitychange", onVisibilityChange);
  };
}

/** The job's state from polling alone (startJobPolling), reset when the job id changes. */
export function useJobPolling(jobId: string | null): JobPolling {
  return useJobState(jobId, startJobPolling);
}

/**
 * Runs `start(jobId, update)` for the current job id (stopping it when the id changes or the
 * component unmounts) and keeps the state it reports; IDLE without a job.
 */
export function useJobState(
  jobId: string | null,
  start: (jobId: string, update: JobUpdate) => () => void,
): JobPolling {
  const [state, setState] = useState<JobPolling & { jobId: string | null }>({ ...IDLE, jobId: null });

  useEffect(() => {
    if (!jobId) return;
    setState({ ...IDLE, jobId });
    return start(jobId, (patch) => setState((previous) => ({ ...previous, ...patch, jobId })));
  }, [jobId, start]);

  // A finished look stays on screen: its signed image addresses are renewed (view-refresh.ts).
  const completed = state.jobId === jobId && state.job?.status === "completed" && !state.missing;
  useEffect(() => {
    if (!jobId || !completed) return;
    return startViewRefresh(jobId, (patch) =>
      setState((previous) => (previous.jobId === jobId ? { ...previous, ...patch } : previous)),
    );
  }, [jobId, completed]);

  if (state.jobId !== jobId || !jobId) return IDLE;
  const { jobId: _, ...polling } = state;
  return polling;
}
