import { z } from "zod";
import type { AppConfig } from "@/lib/config";
import { AppError } from "@/lib/errors";
import { idempotencyKeyOf } from "@/lib/intake/idempotency-key";
import { isJsonRequest, readJsonBody } from "@/lib/intake/json-body";
import { parseOccasion } from "@/lib/intake/occasion";
import type { RedoClient, RedoRequest } from "@/lib/jobs/redo-job";
import { callerOwnerHash } from "@/lib/owners/owner-cookie";
import { clientKeyOf } from "@/lib/request";
import { STEP_NAMES } from "@/lib/step-catalogue";

/** A redo body is a few words: anything past this is not one. */
const MAX_REDO_BODY_BYTES = 4 * 1024;

const redoSchema = z.strictObject({
  from: z.enum(STEP_NAMES),
  occasion: z.string().optional(),
});

/** A redo as the engine takes it, and who asks (rate-limit key, Idempotency-Key, owner hash). */
export interface RedoIntake {
  ask: RedoRequest;
  client: RedoClient;
}

/**
 * Reads POST …/redo: JSON `{ from, occasion? }` within a small cap. A new occasion means new
 * advice, so one sent with a `from` other than `advice` is refused (400 invalid_field) rather
 * than silently redoing more steps than asked. Ownership is the engine's to check (redoLook).
 */
export async function readRedo(
  deps: { config: Pick<AppConfig, "clientAddress" | "uploadDeadlines"> },
  request: Request,
): Promise<RedoIntake> {
  if (!isJsonRequest(request)) {
    throw new AppError("unsupported_media_type", 'Send the redo as JSON: {"from": "tryon"}.');
  }
  const parsed = redoSchema.safeParse(
    await readJsonBody(request, MAX_REDO_BODY_BYTES, deps.config.uploadDeadlines),
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError("invalid_field", `${issue?.path.join(".") || "The request"}: ${issue?.message}`, {
      cause: parsed.error,
    });
  }
  const { from, occasion: rawOccasion } = parsed.data;
  const occasion = rawOccasion === undefined ? null : parseOccasion(rawOccasion);
  if (occasion !== null && from !== "advice") {
    throw new AppError(
      "invalid_field",
      'A new occasion needs new advice: send it with "from": "advice", or leave the occasion out.',
    );
  }
  const client = {
    key: clientKeyOf(request, deps.config.clientAddress),
    idempotencyKey: idempotencyKeyOf(request),
    ownerHash: callerOwnerHash(request),
  };
  return { ask: { from, occasion }, client };
}
