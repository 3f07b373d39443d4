import { DEFAULT_UNWATCHED_AFTER_S } from "@/lib/config";
import type { StoredJob } from "@/lib/jobs/job";
import type { StepName } from "@/lib/step-catalogue";

/** Who asks advance to move a job: a person's status poll, the cron sweep, or a vendor's callback. */
export type Watcher = "person" | "sweep" | "callback";

/** What carries a job that nobody watches to its end, as the deployment is configured. */
export interface Carriers {
  /** Steps whose vendor calls us back when their task ends. */
  callbacks: ReadonlySet<StepName>;
  /** The cron sweep runs often enough to copy every result before its vendor deletes it. */
  sweepCarries: boolean;
  /** A job no person's poll has moved for this long counts as unwatched. */
  unwatchedAfterMs: number;
}

/** Nothing configured carries a job: the embedded defaults and the unit tests. */
export const NO_CARRIERS: Carriers = {
  callbacks: new Set(),
  sweepCarries: false,
  unwatchedAfterMs: DEFAULT_UNWATCHED_AFTER_S * 1000,
};

/**
 * True when this advance must not start the step's paid create: it is not a person's poll, nobody has
 * watched for a while, and neither the step's vendor nor the sweep would carry the result home
 * (docs/architecture.md, "Paused looks": no paid result lost to a closed tab).
 */
export function mustPause(
  job: StoredJob,
  step: StepName,
  watcher: Watcher | undefined,
  carriers: Carriers,
  now: number,
): boolean {
  if (watcher === "person" || carriers.sweepCarries || carriers.callbacks.has(step)) return false;
  return now - (job.watchedAt ?? job.createdAt) > carriers.unwatchedAfterMs;
}
