import { AppError, toAppError } from "@/lib/errors";

/** The bounds every request body is read within. */
export interface BodyLimits {
  /** Counted while streaming, whatever Content-Length says (chunked bodies have none). */
  maxBytes: number;
  /** The longest wait for the next byte: a slow drip is cut here. */
  idleMs: number;
  /** The longest the whole body may take. */
  totalMs: number;
  /** What is too large, for the 413's sentence. */
  tooLargeMessage?: string;
}

// The answer to a body we stopped reading closes the connection: Node then drops the unread rest
// instead of keeping the socket (and the client) waiting. Cancelling the stream would instead reset
// the connection before the client could read the answer.
const CLOSE = { Connection: "close" };

function tooLarge(limits: BodyLimits): AppError {
  return new AppError("request_too_large", limits.tooLargeMessage ?? "The request is too large.", {
    headers: CLOSE,
  });
}

function timedOut(total: boolean): AppError {
  return new AppError(
    "upload_timeout",
    total
      ? "The upload took too long. Please try again on a faster connection or with smaller photos."
      : "The upload stopped sending data. Please check your connection and try again.",
    { headers: CLOSE },
  );
}

/** The error to answer with when reading stopped early: it closes the connection. */
export function refusalOf(error: unknown): AppError {
  const appError = toAppError(error);
  if (appError.headers.Connection) return appError;
  return new AppError(appError.code, appError.message, {
    cause: appError.cause,
    headers: { ...appError.headers, ...CLOSE },
  });
}

async function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  ms: number,
): Promise<ReadableStreamReadResult<Uint8Array> | "late"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), Math.max(0, ms));
  });
  try {
    // A read still pending after "late" settles into the race, never into an unhandled rejection.
    return await Promise.race([reader.read(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The request body chunk by chunk within `limits`; past one it throws an AppError (413 or 408)
 * that closes the connection, having read nothing more.
 */
export async function* guardedBody(request: Request, limits: BodyLimits): AsyncGenerator<Buffer> {
  if (Number(request.headers.get("content-length") ?? 0) > limits.maxBytes) throw tooLarge(limits);
  const reader = request.body?.getReader();
  if (!reader) return;
  const deadline = Date.now() + limits.totalMs;
  let received = 0;
  for (;;) {
    let next: Awaited<ReturnType<typeof readWithin>>;
    try {
      next = await readWithin(reader, Math.min(limits.idleMs, deadline - Date.now()));
    } catch (error) {
      throw new AppError("invalid_request", "The upload was interrupted.", { cause: error, headers: CLOSE });
    }
    if (next === "late") throw timedOut(Date.now() >= deadline);
    if (next.done) return;
    received += next.value.byteLength;
    if (received > limits.maxBytes) throw tooLarge(limits);
    yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
  }
}

/** A whole small body within `limits`, as one Buffer. */
export async function readGuardedBody(request: Request, limits: BodyLimits): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of guardedBody(request, limits)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
