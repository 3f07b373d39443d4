import { clampPollDelay, type PublicJob } from "@/lib/public-job";
import { getStatus, startJobOver } from "@/tests/support/poll";
import { sleep } from "./stats";

/**
 * The two kinds of client the orchestration sections run: one that polls as the page does
 * (hooks/use-job-polling.ts: at once, then after pollAfterMs clamped to 1–5 s) and one on the event
 * stream (`GET /api/generation/events?jobId=…`: `event: job`, `id: <version>`, `data: <public view>`,
 * ending after the terminal event; a closed stream is resumed with Last-Event-ID).
 */

/** A view as the client saw it, `at` ms after its start request was sent. */
export interface SeenView {
  at: number;
  view: PublicJob;
}

export interface ClientRun {
  jobId: string;
  /** ms epoch when the start request was sent, to line the client up with the app's log. */
  sentAt: number;
  status: string;
  /** ms from the start request being sent. */
  acceptedMs: number;
  completedMs: number;
  /** Status requests made (polling) — 0 for a client that stayed on the stream. */
  polls: number;
  /** Event-stream connections opened (0 for a polling client). */
  connections: number;
  views: SeenView[];
}

const isFinished = (status: string) => status === "completed" || status === "failed";

export async function pollJob(url: string, form: FormData, timeoutMs: number): Promise<ClientRun> {
  const started = performance.now();
  const sentAt = Date.now();
  const jobId = await startJobOver(url, form);
  const acceptedMs = performance.now() - started;
  const views: SeenView[] = [];
  for (;;) {
    const view = await getStatus(url, jobId);
    const at = performance.now() - started;
    views.push({ at, view });
    if (isFinished(view.status) || at > timeoutMs) {
      const polls = views.length;
      return {
        jobId,
        sentAt,
        status: view.status,
        acceptedMs,
        completedMs: at,
        polls,
        connections: 0,
        views,
      };
    }
    await sleep(clampPollDelay(view.pollAfterMs ?? 5_000));
  }
}

/** The endpoint is not there: the app answers the API's JSON 404 for an unknown address. */
export class StreamMissing extends Error {}

interface SseEvent {
  event: string;
  id: string | null;
  data: string;
}

/** Splits an event-stream body into events (the WHATWG parsing rules the page's EventSource follows). */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event: SseEvent = { event: "message", id: null, data: "" };
  let hasData = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let newline = buffer.search(/\r\n|\r|\n/);
    while (newline >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (hasData) yield event;
        event = { event: "message", id: event.id, data: "" };
        hasData = false;
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.event = text;
        else if (field === "id") event.id = text;
        else if (field === "data") {
          event.data = hasData ? `${event.data}\n${text}` : text;
          hasData = true;
        }
      }
      newline = buffer.search(/\r\n|\r|\n/);
    }
  }
}

/** Follows a job on the event stream, reconnecting with Last-Event-ID when the server closes it. */
export async function streamJob(url: string, form: FormData, timeoutMs: number): Promise<ClientRun> {
  const started = performance.now();
  const sentAt = Date.now();
  const jobId = await startJobOver(url, form);
  const acceptedMs = performance.now() - started;
  const views: SeenView[] = [];
  let lastId: string | null = null;
  let connections = 0;
  const finish = (status: string): ClientRun => ({
    jobId,
    sentAt,
    status,
    acceptedMs,
    completedMs: performance.now() - started,
    polls: 0,
    connections,
    views,
  });
  while (performance.now() - started < timeoutMs) {
    connections++;
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    const signal = AbortSignal.timeout(Math.max(1, Math.round(timeoutMs - (performance.now() - started))));
    let response: Response;
    try {
      response = await fetch(`${url}/api/generation/events?jobId=${jobId}`, { headers, signal });
    } catch {
      await sleep(250);
      continue;
    }
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("text/event-stream") || !response.body) {
      const body = await response.text().catch(() => "");
      if (response.status === 404 && body.includes('"not_found"')) throw new StreamMissing();
      await sleep(500);
      continue;
    }
    try {
      for await (const event of sseEvents(response.body)) {
        if (event.id !== null) lastId = event.id;
        if (event.event !== "job") continue;
        const view = JSON.parse(event.data) as PublicJob;
        views.push({ at: performance.now() - started, view });
        if (isFinished(view.status)) {
          await response.body.cancel().catch(() => {});
          return finish(view.status);
        }
      }
    } catch {
      // A dropped connection: resumed below, as EventSource would.
    }
  }
  return finish(views.at(-1)?.view.status ?? "timeout");
}
