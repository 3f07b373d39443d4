import { AppError } from "@/lib/errors";
import type { AdvanceDeps } from "@/lib/jobs/advance";
import { isTerminal } from "@/lib/jobs/job";
import { logEvent } from "@/lib/log";
import { encodeFrame, parseLastEventId, type StreamFrame } from "@/lib/streams/event-format";
import { jobStreamFrames, type StreamSummary } from "@/lib/streams/job-stream";
import { invocationStopBy } from "@/lib/time-budget";

/** The stream closes itself this long before the route's maxDuration, after any advance in flight. */
const CLOSE_MARGIN_MS = 10_000;

/** What buffers or caches an event stream is told not to; compression is flushed per frame by Next. */
const STREAM_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-store",
  // nginx (and proxies that copy it) would otherwise hold the frames back.
  "X-Accel-Buffering": "no",
};

export interface OpenJobStreamOptions {
  jobId: string;
  deps: AdvanceDeps;
  ownerHash: string | null;
  /** The request's `Last-Event-ID` header, raw. */
  lastEventId: string | null;
  /** The route's `maxDuration` (s) and when the invocation began. */
  maxDurationS: number;
  startedAt?: number;
  /** Aborted when the client goes away (the request's signal). */
  signal: AbortSignal;
}

/**
 * Answers `GET /api/generation/events`: refusals before the stream opens are AppErrors (the usual
 * JSON), a reconnect to a finished job that already saw its last event is 204 (which tells an
 * EventSource to stop reconnecting), and otherwise a `text/event-stream` of the job's frames.
 */
export async function openJobStream(options: OpenJobStreamOptions): Promise<Response> {
  const { jobId, deps } = options;
  const first = await deps.store.get(jobId);
  if (!first) throw new AppError("job_not_found", "This job does not exist or has expired.");
  const lastEventId = parseLastEventId(options.lastEventId);
  if (isTerminal(first.status) && lastEventId !== null && lastEventId === first.version) {
    return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } });
  }

  const startedAt = options.startedAt ?? Date.now();
  const stopBy = invocationStopBy(options.maxDurationS, startedAt);
  const closeAt = startedAt + options.maxDurationS * 1000 - CLOSE_MARGIN_MS;
  const gone = new AbortController();
  options.signal.addEventListener("abort", () => gone.abort(), { once: true });
  const frames = jobStreamFrames({
    jobId,
    deps,
    first,
    ownerHash: options.ownerHash,
    lastEventId,
    stopBy,
    closeAt,
    signal: gone.signal,
  });
  const encoder = new TextEncoder();
  let events = 0;
  let ended = false;
  /** One log line per stream: `stream.left` when the client went away, `stream.closed` otherwise. */
  const logEnd = (summary?: StreamSummary) => {
    if (ended) return;
    ended = true;
    const event = gone.signal.aborted ? "stream.left" : "stream.closed";
    logEvent(event, { jobId, events, bells: summary?.bells ?? null, openForMs: Date.now() - startedAt });
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await frames.next();
        if (next.done) {
          logEnd(next.value);
          controller.close();
          return;
        }
        if (next.value.kind === "job") events++;
        controller.enqueue(encoder.encode(encodeFrame(next.value satisfies StreamFrame)));
      } catch (error) {
        logEvent("stream.failed", { jobId, error });
        controller.close();
      }
    },
    async cancel() {
      // The client went away: stop advancing for it (an advance in flight finishes; it is safe to).
      gone.abort();
      await frames.return({ bells: 0 });
      logEnd();
    },
  });
  return new Response(body, { status: 200, headers: STREAM_HEADERS });
}
