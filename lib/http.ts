import { AppError, errorResponse } from "@/lib/errors";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
type Method = (typeof METHODS)[number];
type Handler<C> = (request: Request, context: C) => Promise<Response>;

/** Every answer is `no-store` unless its handler says otherwise; errors already are (errorResponse). */
function handled<C>(handler: Handler<C>): Handler<C> {
  return async (request, context) => {
    try {
      const response = await handler(request, context);
      if (!response.headers.has("Cache-Control")) response.headers.set("Cache-Control", "no-store");
      return response;
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/**
 * A route file's method exports, from the handlers of the methods it serves: any error thrown
 * becomes `{ error, code }` JSON through the one error table (lib/errors.ts), every answer is
 * `Cache-Control: no-store` unless the handler sets its own, and the other methods answer 405
 * `{ error, code }` with an Allow header (Next's own 405 has no body).
 * `export const { GET, POST, PUT, PATCH, DELETE } = route({ POST: start });`
 */
export function route<C = unknown>(
  handlers: Partial<Record<Method, Handler<C>>>,
): Record<Method, Handler<C>> {
  const allowed = METHODS.filter((method) => handlers[method]);
  const refuse = async () =>
    errorResponse(
      new AppError("method_not_allowed", `This address only accepts ${allowed.join(" and ")} requests.`, {
        headers: { Allow: allowed.join(", ") },
      }),
    );
  const entries = METHODS.map((method) => [method, handled(handlers[method] ?? refuse)] as const);
  return Object.fromEntries(entries) as Record<Method, Handler<C>>;
}

/**
 * Reads a request body of at most `limitBytes`, counting while it streams whatever Content-Length
 * says; past the limit it stops reading (the rest stays on the wire) and throws 413
 * `request_too_large` with `headers`. The stream is not cancelled: that would reset the connection
 * before the 413 could be sent.
 */
export async function readCappedBody(
  request: Request,
  limitBytes: number,
  headers: Record<string, string> = {},
): Promise<Buffer> {
  const tooLarge = () => new AppError("request_too_large", "The request is too large.", { headers });
  if (Number(request.headers.get("content-length") ?? 0) > limitBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) return Buffer.concat(chunks);
    size += chunk.value.byteLength;
    if (size > limitBytes) {
      reader.releaseLock();
      throw tooLarge();
    }
    chunks.push(chunk.value);
  }
}
