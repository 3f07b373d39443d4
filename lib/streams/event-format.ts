/**
 * Server-Sent Events framing (the WHATWG HTML "event stream" format). Each frame ends with a blank
 * line; `data` is one line of JSON, so it never needs splitting.
 */
export type StreamFrame =
  /** A job's public view; `id` is the record's version, so a reconnect resumes after it. */
  | { kind: "job"; id: number; data: unknown }
  /** The server's clock (ms epoch), once per connection: the page counts elapsed time by it. */
  | { kind: "clock"; now: number }
  /** How long a browser waits before reconnecting, sent on opening and again on a planned close. */
  | { kind: "retry"; ms: number }
  /** A comment line: keeps idle connections open through proxies; browsers ignore it. */
  | { kind: "heartbeat" };

export function encodeFrame(frame: StreamFrame): string {
  switch (frame.kind) {
    case "job":
      return `id: ${frame.id}\nevent: job\ndata: ${JSON.stringify(frame.data)}\n\n`;
    case "clock":
      return `event: clock\ndata: ${JSON.stringify({ now: frame.now })}\n\n`;
    case "retry":
      return `retry: ${Math.round(frame.ms)}\n\n`;
    case "heartbeat":
      return ": keep-alive\n\n";
  }
}

/** `Last-Event-ID` as a version: a non-negative integer, or null for anything else (sent everything). */
export function parseLastEventId(raw: string | null): number | null {
  if (raw === null || !/^\d{1,15}$/.test(raw.trim())) return null;
  return Number(raw.trim());
}
