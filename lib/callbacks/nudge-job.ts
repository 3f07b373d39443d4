import { after } from "next/server";
import { type AdvanceDeps, type AdvanceOptions, advance } from "@/lib/jobs/advance";
import { logEvent } from "@/lib/log";
import { signalJob } from "@/lib/streams/job-signals";
import { invocationStopBy, SHORT_ROUTE_MAX_DURATION_S } from "@/lib/time-budget";
import { withinBudget } from "@/lib/within-budget";

/**
 * A callback's answer never waits longer than this (vendors want a 2xx within a few seconds, and
 * Replicate retries a slow one); the nudge goes on after the answer.
 */
const NUDGE_BUDGET_MS = 3_000;
/** Past this many nudges per job and window, a callback advances only on schedule, like a poll. */
const NUDGES_PER_WINDOW = 10;
const NUDGE_WINDOW_MS = 60_000;

/** The job a callback is about, and the task it names when it can say which create that was. */
export type CallbackTarget = string | { jobId: string; foundTask?: AdvanceOptions["foundTask"] } | null;

/**
 * Advances the job a verified callback is about, checking its task now rather than on schedule.
 * Best effort: failures are logged, never answered (the poll and the cron sweep still move the job),
 * and a flood of callbacks for one job cannot multiply provider calls.
 */
export async function nudgeJob(
  deps: AdvanceDeps,
  findJobId: () => Promise<CallbackTarget>,
  fields: Record<string, unknown>,
): Promise<void> {
  // The callback routes declare this maxDuration; the nudge's after() ends with them.
  const stopBy = invocationStopBy(SHORT_ROUTE_MAX_DURATION_S);
  const work = (async () => {
    const target = await findJobId();
    const { jobId, foundTask } =
      typeof target === "string" ? { jobId: target, foundTask: undefined } : (target ?? {});
    if (!jobId) {
      logEvent("callback.no_job", fields);
      return;
    }
    const { count } = await deps.store.hit(`nudge:${jobId}`, NUDGE_WINDOW_MS);
    const ignoreSchedule = count <= NUDGES_PER_WINDOW;
    const job = await advance(jobId, deps, { ignoreSchedule, foundTask, watcher: "callback", stopBy });
    // An open event stream on this instance sends the news now, rather than at its next re-read.
    signalJob(jobId);
    logEvent("callback.nudged", {
      ...fields,
      jobId,
      throttled: !ignoreSchedule,
      status: job?.status ?? null,
    });
  })().catch((error: unknown) => logEvent("callback.nudge_failed", { ...fields, error }));
  try {
    after(() => work);
  } catch {
    // Outside a request scope (tests, scripts) there is no after(): the process itself keeps it alive.
  }
  await withinBudget(work, NUDGE_BUDGET_MS, async () => undefined);
}
