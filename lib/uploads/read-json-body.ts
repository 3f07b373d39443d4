import { AppError } from "@/lib/errors";

export function isJsonRequest(request: Request): boolean {
  return /^application\/json\s*(?:;|$)/i.test(request.headers.get("content-type") ?? "");
}

/** Reads a small JSON body, refusing one past `limitBytes` without buffering the rest. */
export async function readJsonBody(request: Request, limitBytes: number): Promise<unknown> {
  const tooLarge = () => new AppError("request_too_large", "The request is too large.");
  if (Number(request.headers.get("content-length") ?? 0) > limitBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  for (;;) {
    const chunk = await reader?.read();
    if (!chunk || chunk.done) break;
    size += chunk.value.byteLength;
    if (size > limitBytes) {
      await reader?.cancel();
      throw tooLarge();
    }
    chunks.push(chunk.value);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (error) {
    throw new AppError("invalid_request", "The request body is not valid JSON.", { cause: error });
  }
}
