import http from "node:http";
import { consentPartOf } from "@/tests/support/consent";

/** What a raw upload saw: the answer (if any), when it came, and how much of the body left first. */
export interface UploadRun {
  status: number | null;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** Since the request began; null when no answer came. */
  answeredAtMs: number | null;
  bytesAtAnswer: number;
  /** When the connection ended (the server closed it, or the run's timeout cut it). */
  closedAtMs: number;
  /** Every body byte the client managed to write before the connection ended. */
  bytesSent: number;
  /** The client's socket error, when the server cut the connection under it. */
  error: string | null;
  /** The run's own timeout cut it: the server neither answered nor closed. */
  timedOut: boolean;
  /** When the last body byte was written, since the request began. */
  lastByteAtMs: number;
}

/** Where a producer writes the body; `write` waits for the socket to drain (or close). */
export interface UploadSink {
  write(bytes: Buffer): Promise<void>;
  end(): void;
  readonly closed: boolean;
}

/**
 * POSTs a chunked body (no Content-Length unless `headers` says so) that `produce` writes at its own
 * pace, and records the answer and the connection's end; never rejects. Gives up after `timeoutMs`.
 */
export function rawUpload(
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
  produce: (sink: UploadSink) => Promise<void>,
  timeoutMs = 30_000,
): Promise<UploadRun> {
  const { hostname, port } = new URL(baseUrl);
  const started = Date.now();
  const run: UploadRun = {
    status: null,
    body: "",
    headers: {},
    answeredAtMs: null,
    bytesAtAnswer: 0,
    closedAtMs: 0,
    bytesSent: 0,
    error: null,
    timedOut: false,
    lastByteAtMs: 0,
  };
  return new Promise((resolve) => {
    let closed = false;
    // A fresh connection (no keep-alive pool), so its end is this request's end.
    const request = http.request(
      { hostname, port, path, method: "POST", headers, agent: false },
      (answer) => {
        run.status = answer.statusCode ?? null;
        run.headers = answer.headers;
        run.answeredAtMs = Date.now() - started;
        run.bytesAtAnswer = run.bytesSent;
        answer.on("data", (data: Buffer) => {
          run.body += data.toString();
        });
        answer.on("error", () => {});
      },
    );
    const timer = setTimeout(() => {
      run.timedOut = true;
      request.destroy();
    }, timeoutMs);
    const finish = () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      run.closedAtMs = Date.now() - started;
      resolve(run);
    };
    request.on("error", (error: NodeJS.ErrnoException) => {
      run.error = error.code ?? error.message;
      finish();
    });
    request.on("close", finish);
    const sink: UploadSink = {
      get closed() {
        return closed || request.destroyed;
      },
      write: (bytes) =>
        new Promise<void>((done) => {
          if (sink.closed) return done();
          run.bytesSent += bytes.length;
          run.lastByteAtMs = Date.now() - started;
          if (request.write(bytes)) return done();
          const settle = () => {
            request.off("drain", settle);
            request.off("close", settle);
            done();
          };
          request.on("drain", settle);
          request.on("close", settle);
        }),
      end: () => {
        if (!sink.closed) request.end();
      },
    };
    produce(sink).catch(() => {});
  });
}

/**
 * Writes `totalBytes` of 0xFF in 256 kB chunks as fast as the server takes them.
 *
 * Such a writer can lose the server's answer: the server refuses, closes with the rest of the body
 * unread, and the close resets the connection; a write that fails on the reset (EPIPE) makes Node
 * drop the answer it had not yet read (under load, about once in 40 requests). `isReset` tells that
 * outcome; `burst` is the writer whose answer is always read.
 */
export function flood(totalBytes: number, head: Buffer = Buffer.alloc(0)) {
  const chunk = Buffer.alloc(256 * 1024, 0xff);
  return async (sink: UploadSink) => {
    await sink.write(head);
    for (let sent = 0; sent < totalBytes && !sink.closed; sent += chunk.length) await sink.write(chunk);
    sink.end();
  };
}

/**
 * Writes `head` and `bytes` of 0xFF in one write and never ends the body. What the kernel had not yet
 * taken is written later by libuv, which reads a socket before it writes to it, so the answer is read
 * (no write of ours follows it, as a flood's next chunk would).
 */
export function burst(bytes: number, head: Buffer = Buffer.alloc(0)) {
  return async (sink: UploadSink) => {
    await sink.write(Buffer.concat([head, Buffer.alloc(bytes, 0xff)]));
  };
}

/** The server reset the run before its answer could be read (see `flood`); not the run's own timeout. */
export const isReset = (run: UploadRun) =>
  run.status === null && !run.timedOut && (run.error === "EPIPE" || run.error === "ECONNRESET");

/** Writes `head`, then one byte every `everyMs`, for at most `forMs` (the server should cut it sooner). */
export function drip(head: Buffer, everyMs: number, forMs: number) {
  return async (sink: UploadSink) => {
    await sink.write(head);
    const until = Date.now() + forMs;
    while (!sink.closed && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      await sink.write(Buffer.from("x"));
    }
    sink.end();
  };
}

/** The opening of a multipart start body whose photo part never ends: what a flood or a drip follows. */
export function openPhotoPart(boundary = "hostile-boundary"): { head: Buffer; contentType: string } {
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="occasion"\r\n\r\nParty\r\n` +
      consentPartOf(boundary) +
      `--${boundary}\r\nContent-Disposition: form-data; name="junk"; filename="junk.bin"\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n",
  );
  return { head, contentType: `multipart/form-data; boundary=${boundary}` };
}
