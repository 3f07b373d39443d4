import type { AdvanceDeps } from "@/lib/jobs/advance";
import { eraseJob } from "@/lib/jobs/erase-job";
import { logEvent } from "@/lib/log";
import { UNCLAIMED_UPLOAD_MAX_AGE_MS, UPLOAD_FOLDER } from "@/lib/uploads/upload-rules";

export interface RetentionResult {
  /** Jobs whose record had expired, found in the retention index (at most the limit). */
  expired: number;
  /** Of those, the ones whose files and index entries are now gone. */
  erased: number;
  /**
   * Erases that failed (a blob API outage; the id stays in the index for the next sweep), and a failed
   * sweep of unclaimed uploads (counted once).
   */
  errors: number;
  /** Direct uploads no start claimed within UNCLAIMED_UPLOAD_MAX_AGE_MS, now deleted. */
  unclaimedUploads: number;
}

/** The store counter that lets one sweep per period run, however many instances ask. */
const SWEEP_COUNTER = "retention-sweep";

/** How long one sweep may go on erasing (the cron route and the app's own sweep both fit it). */
const SWEEP_BUDGET_MS = 30_000;

/**
 * Deletes what outlives an expired job's record: its files under `<jobId>/`, the offline studio's
 * task files, its index entries. The record's TTL ends the record; this ends everything else. It
 * drains the index in batches of `limit` until nothing is due or `budgetMs` is spent, so a backlog
 * cannot outgrow the sweeps; an erase that fails is left for the next sweep, not retried in this one.
 * Then it deletes the direct uploads that no start claimed (a refused start, a closed tab): no job
 * ever held them, so no index names them.
 */
export async function sweepExpiredJobs(
  deps: AdvanceDeps,
  {
    limit,
    budgetMs = SWEEP_BUDGET_MS,
    now = Date.now,
  }: { limit: number; budgetMs?: number; now?: () => number },
): Promise<RetentionResult> {
  const started = now();
  const attempted = new Set<string>();
  const result: RetentionResult = { expired: 0, erased: 0, errors: 0, unclaimedUploads: 0 };
  while (now() - started < budgetMs) {
    const due = await deps.store.listExpired(now(), limit + attempted.size);
    const ids = due.filter((id) => !attempted.has(id));
    if (ids.length === 0) break;
    for (const jobId of ids) {
      if (now() - started >= budgetMs) break;
      attempted.add(jobId);
      result.expired++;
      try {
        await eraseJob(deps, jobId);
        result.erased++;
      } catch (error) {
        result.errors++;
        logEvent("retention.erase_failed", { jobId, error });
      }
    }
  }
  try {
    result.unclaimedUploads = await deps.blobs.deleteStoredBefore(
      UPLOAD_FOLDER,
      now() - UNCLAIMED_UPLOAD_MAX_AGE_MS,
    );
  } catch (error) {
    result.errors++;
    logEvent("retention.uploads_failed", { error });
  }
  if (result.expired > 0 || result.unclaimedUploads > 0) logEvent("retention.swept", { ...result });
  return result;
}

/** When this process last asked the store whether a sweep is due: a poll costs no store call before then. */
let lastAskedAt = 0;

/**
 * The app's own retention sweep, for deployments without a cron: at most once per `everyMs` across
 * every instance (the first `hit` of the store's window wins), and this process asks at most that
 * often too. Call it after an answer is sent (after()); it never throws.
 */
export async function sweepExpiredJobsIfDue(
  deps: AdvanceDeps,
  { everyMs, limit = 20, now = Date.now }: { everyMs: number; limit?: number; now?: () => number },
): Promise<RetentionResult | null> {
  if (now() - lastAskedAt < everyMs) return null;
  lastAskedAt = now();
  try {
    const { count } = await deps.store.hit(SWEEP_COUNTER, everyMs);
    if (count !== 1) return null;
    return await sweepExpiredJobs(deps, { limit, now });
  } catch (error) {
    logEvent("retention.sweep_failed", { error });
    return null;
  }
}
