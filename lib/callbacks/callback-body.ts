import { readCappedBody } from "@/lib/http";

/** Vendors' callback bodies are a task or a prediction: a few kB. Anything past this is refused. */
export const CALLBACK_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Sent with every refusal made before the body is read whole: Node closes the connection after the
 * answer instead of draining whatever the caller is still sending.
 */
export const CLOSE_CONNECTION: Record<string, string> = { Connection: "close" };

/** A callback's raw body, read only after its URL or headers checked out; 413 past the limit. */
export function readCallbackBody(request: Request): Promise<Buffer> {
  return readCappedBody(request, CALLBACK_BODY_LIMIT_BYTES, CLOSE_CONNECTION);
}
