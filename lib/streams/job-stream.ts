import { type AdvanceDeps, advance } from "@/lib/jobs/advance";
import { isTerminal, type StoredJob } from "@/lib/jobs/job";
import { publicJobOf } from "@/lib/jobs/public-view";
import { logEvent } from "@/lib/log";
import type { StreamFrame } from "@/lib/streams/event-format";
import { onJobSignal, signalJob } from "@/lib/streams/job-signals";
import { COMMIT_ALLOWANCE_MS, DEFAULT_CREATE_TIMEOUT_MS } from "@/lib/time-budget";

/** A change another instance made is seen within this, when no bell rings here (job-signals.ts). */
export const STREAM_REREAD_MS = 3_000;
/** A comment this often keeps an idle connection open through proxies that cut silent ones. */
export const STREAM_HEARTBEAT_MS = 15_000;
/** What a browser waits before reconnecting after the stream's planned close (the `retry:` hint). */
export const STREAM_RETRY_MS = 1_000;
/** Wake a little after a check is due, so the advance finds it due rather than a hair early. */
const DUE_LEAD_MS = 25;
/** A due job that did not move (another process holds its lease): look again after 250 ms, 500 ms … */
const FIRST_BUSY_WAIT_MS = 250;

/** How a stream went, for its closing log line. */
export interface StreamSummary {
  /** Times a bell woke it (a callback's nudge or another stream's change here). */
  bells: number;
}

/** The stream's clock and its sleep, which a wake (a bell, the client leaving) cuts short. */
export interface StreamClock {
  now(): number;
  sleep(ms: number, wake: AbortSignal): Promise<void>;
}

export const REAL_CLOCK: StreamClock = {
  now: Date.now,
  sleep: (ms, wake) =>
    new Promise((resolve) => {
      if (wake.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        wake.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wake.addEventListener("abort", done, { once: true });
    }),
};

export interface JobStreamOptions {
  jobId: string;
  deps: AdvanceDeps;
  /** The job as the route read it before opening the stream. */
  first: StoredJob;
  /** The caller's owner hash (lib/owners), for the public view's `owned`. */
  ownerHash: string | null;
  /** The version the client saw last (`Last-Event-ID`): nothing at or below it is sent again. */
  lastEventId: number | null;
  /** No vendor call starts unless it ends before this (ms epoch): the route's invocationStopBy. */
  stopBy: number;
  /** The stream closes itself at this moment (ms epoch) with a `retry:` hint, before maxDuration. */
  closeAt: number;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  clock?: StreamClock;
  rereadMs?: number;
  heartbeatMs?: number;
}

/**
 * The frames of one job's event stream: the job at once and on every change (each `id` its record's
 * version, so increasing), until it finishes, the client leaves or `closeAt` comes. While open it
 * advances the job itself as a person's poll would (`watcher: "person"`), waking when the next check
 * is due, when a bell rings here, or every `rereadMs` to see another instance's change; a job that is
 * not due costs one store read per wake. Several streams and polls on one job are safe: advance's
 * lease lets one of them call the vendor, and the others read what it wrote.
 */
export async function* jobStreamFrames(
  options: JobStreamOptions,
): AsyncGenerator<StreamFrame, StreamSummary> {
  const { jobId, deps, ownerHash, stopBy, closeAt, signal } = options;
  const clock = options.clock ?? REAL_CLOCK;
  const rereadMs = options.rereadMs ?? STREAM_REREAD_MS;
  const heartbeatMs = options.heartbeatMs ?? STREAM_HEARTBEAT_MS;
  // The create fence needs this much of the invocation left; with less, a reconnect does better.
  const createNeedsMs = (deps.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS) + 2 * COMMIT_ALLOWANCE_MS;
  let job = options.first;
  // A last id from beyond this record's history is not about this job: send it all.
  let sent = options.lastEventId !== null && options.lastEventId <= job.version ? options.lastEventId : -1;
  let busyRounds = 0;
  let nextBeatAt = clock.now() + heartbeatMs;

  let wake = new AbortController();
  let bells = 0;
  const ring = () => {
    bells++;
    wake.abort();
  };
  const leave = () => wake.abort();
  const stopListening = onJobSignal(jobId, ring);
  signal.addEventListener("abort", leave);

  try {
    yield { kind: "retry", ms: STREAM_RETRY_MS };
    yield { kind: "clock", now: clock.now() };
    // Image addresses from the blob store, as in the status view (signed for a private store, and
    // signed afresh with each frame).
    const emit = async function* (): AsyncGenerator<StreamFrame> {
      if (job.version <= sent) return;
      sent = job.version;
      yield {
        kind: "job",
        id: job.version,
        data: await publicJobOf(job, deps.blobs, ownerHash, clock.now()),
      };
    };
    yield* emit();
    for (;;) {
      if (isTerminal(job.status) || signal.aborted) return { bells };
      const before = job.version;
      const advanced = await advanceQuietly(jobId, deps, stopBy);
      if (advanced === null) return { bells }; // expired or deleted: a reconnect answers 404
      if (advanced) job = advanced;
      if (job.version > before) signalJob(jobId, ring);
      yield* emit();
      if (isTerminal(job.status) || signal.aborted) return { bells };

      const now = clock.now();
      const stillDue = job.nextCheckAt <= now;
      if (now >= closeAt || (stillDue && stopBy - now < createNeedsMs)) {
        yield { kind: "retry", ms: STREAM_RETRY_MS };
        return { bells };
      }
      busyRounds = stillDue ? busyRounds + 1 : 0;
      const untilDue = stillDue
        ? FIRST_BUSY_WAIT_MS * 2 ** Math.min(busyRounds - 1, 4)
        : job.nextCheckAt - now + DUE_LEAD_MS;
      const waitMs = Math.max(0, Math.min(untilDue, rereadMs, closeAt - now, nextBeatAt - now));
      // A bell that rang while advancing means: look again now, without sleeping.
      if (!wake.signal.aborted) await clock.sleep(waitMs, wake.signal);
      if (wake.signal.aborted) wake = new AbortController();
      if (clock.now() >= nextBeatAt) {
        nextBeatAt = clock.now() + heartbeatMs;
        yield { kind: "heartbeat" };
      }
    }
  } finally {
    stopListening();
    signal.removeEventListener("abort", leave);
  }
}

/**
 * One advance; a failure (our store down, a lost race) is logged and the job kept as last seen, so a
 * stream outlives a blip. `undefined` means "no news", `null` that the job is gone.
 */
async function advanceQuietly(
  jobId: string,
  deps: AdvanceDeps,
  stopBy: number,
): Promise<StoredJob | null | undefined> {
  try {
    return await advance(jobId, deps, { watcher: "person", stopBy });
  } catch (error) {
    logEvent("stream.advance_failed", { jobId, error });
    return undefined;
  }
}
