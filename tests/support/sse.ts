import { type PublicJob, publicJobSchema } from "@/lib/public-job";

/** One Server-Sent Event as a browser's EventSource would dispatch it (comments and retry kept apart). */
export interface SseEvent {
  event: string;
  id: string | null;
  data: string;
}

export interface SseRead {
  status: number;
  headers: Headers;
  events: SseEvent[];
  /** `retry:` values, in order. */
  retries: number[];
  /** Comment lines (`: keep-alive`). */
  comments: number;
  /** The server ended the stream (rather than the reader stopping). */
  ended: boolean;
}

/** The job events of a read, parsed with the public job's schema. */
export function jobEventsOf(read: SseRead): Array<{ id: number; job: PublicJob }> {
  return read.events
    .filter((event) => event.event === "job")
    .map((event) => ({ id: Number(event.id), job: publicJobSchema.parse(JSON.parse(event.data)) }));
}

export interface ReadEventsOptions {
  lastEventId?: string;
  /** Stop reading (and close the connection) once this returns true for the events so far. */
  until?: (events: SseEvent[]) => boolean;
  timeoutMs?: number;
}

/**
 * Opens `GET /api/generation/events` with fetch and parses the stream by the WHATWG rules (lines
 * split on LF, fields `event`, `id`, `data`, `retry`, blank line dispatches), until the server ends
 * it, `until` holds or the timeout passes (which throws).
 */
export async function readJobEvents(
  baseUrl: string,
  jobId: string,
  options: ReadEventsOptions = {},
): Promise<SseRead> {
  const controller = new AbortController();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const timer = setTimeout(
    () => controller.abort(new Error(`no end of stream in ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    const response = await fetch(`${baseUrl}/api/generation/events?jobId=${encodeURIComponent(jobId)}`, {
      headers: {
        accept: "text/event-stream",
        ...(options.lastEventId === undefined ? {} : { "last-event-id": options.lastEventId }),
      },
      signal: controller.signal,
    });
    const read: SseRead = {
      status: response.status,
      headers: response.headers,
      events: [],
      retries: [],
      comments: 0,
      ended: false,
    };
    if (!response.body || !response.headers.get("content-type")?.startsWith("text/event-stream")) {
      await response.body?.cancel();
      return read;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let pending: SseEvent = { event: "message", id: null, data: "" };
    let hasData = false;
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) {
        read.ended = true;
        return read;
      }
      buffer += chunk.value;
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf("\n");
        if (line === "") {
          if (hasData) read.events.push(pending);
          pending = { event: "message", id: null, data: "" };
          hasData = false;
          continue;
        }
        if (line.startsWith(":")) {
          read.comments++;
          continue;
        }
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") pending.event = value;
        else if (field === "id") pending.id = value;
        else if (field === "retry") read.retries.push(Number(value));
        else if (field === "data") {
          pending.data = hasData ? `${pending.data}\n${value}` : value;
          hasData = true;
        }
      }
      if (options.until?.(read.events)) {
        await reader.cancel();
        return read;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}
