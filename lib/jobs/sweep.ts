import { type AdvanceDeps, advance } from "@/lib/jobs/advance";
import { logEvent } from "@/lib/log";

export interface SweepResult {
  /** Due jobs found in the index (at most the limit). */
  due: number;
  /** Jobs that advance() reached before the budget ran out. */
  advanced: number;
  /** Jobs whose advance threw (store trouble, a bug); they stay due for the next sweep. */
  errors: number;
}

const PARALLEL = 4;

/**
 * Advances unfinished jobs whose next check is due, oldest first, so jobs nobody polls (the tab was
 * closed) still finish or time out. Bounded by `limit` jobs and `budgetMs` of wall time to start
 * them in; `stopBy` (the invocation's end) bounds the vendor calls of those already started. Jobs
 * past their deadline are due whatever they were waiting for (advance never schedules past one).
 */
export async function sweepDueJobs(
  deps: AdvanceDeps,
  {
    limit,
    budgetMs,
    stopBy,
    now = Date.now,
  }: { limit: number; budgetMs: number; stopBy?: number; now?: () => number },
): Promise<SweepResult> {
  const started = now();
  const queue = await deps.store.listDue(started, limit);
  const result: SweepResult = { due: queue.length, advanced: 0, errors: 0 };
  const worker = async () => {
    for (let jobId = queue.shift(); jobId; jobId = queue.shift()) {
      if (now() - started > budgetMs) return;
      try {
        await advance(jobId, deps, { watcher: "sweep", stopBy });
        result.advanced++;
      } catch (error) {
        result.errors++;
        logEvent("sweep.advance_failed", { jobId, error });
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return result;
}
