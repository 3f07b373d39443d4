import { createHash, randomBytes } from "node:crypto";
import { AppError } from "@/lib/errors";
import type { StartDeps } from "@/lib/jobs/start-deps";
import type { StartGuards } from "@/lib/store/types";

/** How long a key answers with the job it made: Stripe's 24 hours. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60_000;
/**
 * The longest a start may take from its reservation to its create (below the route's 60 s
 * `maxDuration`). A create that reaches the store later does nothing, so a start that lost its
 * create's answer knows the create cannot land after this.
 */
export const START_WINDOW_MS = 45_000;

export type Reservation = NonNullable<StartGuards["reservation"]>;

/**
 * Reserves a start: under its Idempotency-Key (stored as a digest), or under its fresh job id when
 * it has none. Returns the job a reused key already made (a replay), or the reservation the create
 * must hold; 409 while the key's first request still runs, 422 when the key came with another body.
 */
export async function reserveStart(
  deps: StartDeps,
  jobId: string,
  idempotencyKey: string | null,
  fingerprint: string,
): Promise<{ replayOf: string } | { reservation: Reservation }> {
  const id = idempotencyKey
    ? `key-${createHash("sha256").update(idempotencyKey).digest("hex")}`
    : `job-${jobId}`;
  const token = randomBytes(16).toString("hex");
  const found = await deps.store.reserveStart(id, token, fingerprint, START_WINDOW_MS);
  switch (found.state) {
    case "reserved": {
      const keepMs = idempotencyKey ? Math.min(IDEMPOTENCY_KEY_TTL_MS, deps.config.jobTtlSeconds * 1000) : 0;
      return { reservation: { id, token, keepMs } };
    }
    case "done":
      return { replayOf: found.jobId };
    case "busy":
      throw new AppError(
        "idempotency_key_in_use",
        "This look is still being started. Please wait a moment and try again.",
        { headers: { "Retry-After": "1" } },
      );
    case "mismatch":
      throw new AppError(
        "idempotency_key_reused",
        "This Idempotency-Key was already used for a different request. Send a new key for a new look.",
      );
  }
}
