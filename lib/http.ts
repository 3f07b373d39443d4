import { AppError, errorResponse } from "@/lib/errors";

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * Handlers for the methods a route does not serve, answering 405 `{ error, code }` with an Allow
 * header (Next's own 405 has no body). Spread into the route's exports.
 */
export function otherMethods(...allowed: Method[]): Record<Method, () => Response> {
  const refuse = () =>
    errorResponse(
      new AppError("method_not_allowed", `This address only accepts ${allowed.join(" and ")} requests.`, {
        headers: { Allow: allowed.join(", ") },
      }),
    );
  return { GET: refuse, POST: refuse, PUT: refuse, PATCH: refuse, DELETE: refuse };
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
