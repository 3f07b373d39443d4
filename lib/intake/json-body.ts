import { AppError } from "@/lib/errors";
import { readGuardedBody } from "@/lib/intake/guarded-body";

export function isJsonRequest(request: Request): boolean {
  return /^application\/json\s*(?:;|$)/i.test(request.headers.get("content-type") ?? "");
}

/** Reads a small JSON body within `limitBytes` and the upload deadlines (see guardedBody). */
export async function readJsonBody(
  request: Request,
  limitBytes: number,
  deadlines: { idleMs: number; totalMs: number },
): Promise<unknown> {
  const body = await readGuardedBody(request, { maxBytes: limitBytes, ...deadlines });
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new AppError("invalid_request", "The request body is not valid JSON.", { cause: error });
  }
}
