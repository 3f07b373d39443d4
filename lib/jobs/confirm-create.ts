import { setTimeout as sleep } from "node:timers/promises";
import { after } from "next/server";
import type { BlobRef } from "@/lib/blobs/types";
import { AppError } from "@/lib/errors";
import { StoreUnavailableError } from "@/lib/failures";
import type { StoredJob } from "@/lib/jobs/job";
import type { StartDeps } from "@/lib/jobs/start-deps";
import { START_WINDOW_MS } from "@/lib/jobs/start-idempotency";
import { logEvent } from "@/lib/log";
import type { ActiveJobCap, SettleOutcome, StartGuards } from "@/lib/store/types";
import { withinBudget } from "@/lib/within-budget";

/** How long a start waits, once its create went unanswered, to learn whether the job exists. */
const SETTLE_BUDGET_MS = 10_000;
const SETTLE_PAUSE_MS = 500;
/** How long the retract after the answer keeps trying: past the window no create can land. */
const RETRACT_FOR_MS = START_WINDOW_MS + 10_000;
const RETRACT_PAUSE_MS = 1_000;
/** The sweep leaves a new job alone this long, so it never runs a job its start may still retract. */
export const INDEX_HOLD_MS = 5 * 60_000;

/**
 * The create's outcome stayed unknown: the answer is 503, the photos stay (they may be a job's),
 * and a retract runs after the answer (see createConfirmed).
 */
export class CreateOutcomeUnknownError extends AppError {
  constructor(cause: unknown) {
    super("store_unavailable", "The job store is unavailable right now. Please try again in a moment.", {
      cause,
      headers: { "Retry-After": "5" },
    });
  }
}

async function deletePhotos(deps: StartDeps, photos: BlobRef[]): Promise<void> {
  await Promise.all(photos.map((ref) => deps.blobs.delete(ref).catch(() => undefined)));
}

/** Asks the store what became of the create until it answers or `budgetMs` is spent (then null). */
async function settleWithin(
  deps: StartDeps,
  jobId: string,
  guards: StartGuards,
  budgetMs: number,
): Promise<SettleOutcome | null> {
  const until = Date.now() + budgetMs;
  for (;;) {
    const left = until - Date.now();
    if (left <= 0) return null;
    try {
      const settling = deps.store.settleStart(jobId, guards, "confirm");
      return await withinBudget<SettleOutcome | null>(settling, left, async () => null);
    } catch {
      await sleep(Math.min(SETTLE_PAUSE_MS, Math.max(0, until - Date.now())));
    }
  }
}

/** After a 503 whose create may still land: removes the job if it exists, or makes sure it never will. */
async function retractLater(deps: StartDeps, jobId: string, guards: StartGuards, photos: BlobRef[]) {
  const until = Date.now() + RETRACT_FOR_MS;
  for (;;) {
    try {
      const outcome = await deps.store.settleStart(jobId, guards, "retract");
      logEvent("start.create_retracted", { jobId, outcome });
      if (outcome === "voided" || outcome === "retracted") await deletePhotos(deps, photos);
      return;
    } catch (error) {
      if (Date.now() >= until) {
        // Past the window the create cannot land any more; only a create that landed stays unknown.
        logEvent("start.create_unsettled", { jobId, error });
        return;
      }
      await sleep(RETRACT_PAUSE_MS);
    }
  }
}

/**
 * Creates the job; when the store's answer is lost (StoreUnavailableError: the script may still
 * run), finds out by asking the store, whose answer is final either way (settleStart): the job
 * exists → success; it does not → the create can never land, and the caller cleans up as for any
 * refusal. No answer within the budget → CreateOutcomeUnknownError, and a retract after the answer.
 * Other errors are definite refusals: nothing was written.
 */
export async function createConfirmed(
  deps: StartDeps,
  job: StoredJob,
  cap: ActiveJobCap | undefined,
  guards: StartGuards,
  photos: BlobRef[],
): Promise<void> {
  try {
    await deps.store.create(job, cap, guards);
    return;
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    const outcome = await settleWithin(deps, job.id, guards, SETTLE_BUDGET_MS);
    logEvent("start.create_unanswered", {
      jobId: job.id,
      outcome: outcome ?? "unknown",
      error: String(error.cause ?? error),
    });
    if (outcome === "created") return;
    if (outcome === "voided") throw error;
    after(() => retractLater(deps, job.id, guards, photos));
    throw new CreateOutcomeUnknownError(error);
  }
}
