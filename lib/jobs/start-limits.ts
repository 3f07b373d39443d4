import { AppError } from "@/lib/errors";
import type { StartDeps } from "@/lib/jobs/start-deps";
import type { ActiveJobCap, StartGuards } from "@/lib/store/types";

/** The limits a start is held to before anything is decoded or stored. */

/** Refuses a client that started too many jobs in the current window. */
export async function enforceStartRateLimit(deps: StartDeps, clientKey: string): Promise<void> {
  const { max, windowSeconds } = deps.config.startRateLimit;
  if (max === 0) return;
  const { count, resetInMs } = await deps.store.hit(`start:${clientKey}`, windowSeconds * 1000);
  if (count > max) {
    throw new AppError(
      "rate_limited",
      "You have started many looks in a short time. Please wait a few minutes.",
      {
        headers: { "Retry-After": String(Math.max(1, Math.ceil(resetInMs / 1000))) },
      },
    );
  }
}

/** A job untouched for this long counts as abandoned, not in progress (its tab is gone). */
const ACTIVE_WINDOW_MS = 15 * 60_000;

export const capReached = () =>
  new AppError("too_many_active_jobs", "Many looks are being made right now. Please try again in a minute.", {
    headers: { "Retry-After": "60" },
  });

/** The in-progress cap, or none: provider spend stays bounded. */
export function activeJobCap(deps: StartDeps): ActiveJobCap | undefined {
  const max = deps.config.maxActiveJobs;
  return max === 0 ? undefined : { max, since: Date.now() - ACTIVE_WINDOW_MS };
}

const DAY_MS = 24 * 60 * 60_000;

/** Today's budget counter (UTC), or none when DAILY_LOOK_BUDGET is off. It outlives its day by an hour. */
export function dailyBudget(deps: StartDeps, now = Date.now()): StartGuards["budget"] {
  const max = deps.config.dailyLookBudget;
  if (max === 0) return undefined;
  const day = new Date(now).toISOString().slice(0, 10);
  return { counter: `looks:${day}`, max, windowMs: DAY_MS - (now % DAY_MS) + 60 * 60_000 };
}

export function budgetReached(now = Date.now()): AppError {
  const untilMidnight = Math.ceil((DAY_MS - (now % DAY_MS)) / 1000);
  return new AppError(
    "daily_budget_reached",
    "Today's limit of new looks has been reached. Please come back tomorrow: it resets at midnight UTC.",
    { headers: { "Retry-After": String(untilMidnight) } },
  );
}

/**
 * Cheap early refusals before any photo is decoded or stored: the store's create enforces the cap
 * and the budget atomically, so a burst that passes these together still cannot overshoot.
 */
export async function refuseWhenFull(deps: StartDeps): Promise<void> {
  const budget = dailyBudget(deps);
  if (budget && (await deps.store.readCounter(budget.counter)) >= budget.max) throw budgetReached();
  const cap = activeJobCap(deps);
  if (cap && (await deps.store.countActive(cap.since)) >= cap.max) throw capReached();
}
