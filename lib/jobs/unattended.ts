import { klingCallbackUrlFor, replicateWebhookUrlFor } from "@/lib/callbacks/callback-urls";
import type { AppConfig } from "@/lib/config";
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

/** "A few minutes": a watching tab's polls write far more often than this (every check, every retry). */
export const DEFAULT_UNWATCHED_AFTER_S = 180;
/**
 * A sweep this often (or more) carries jobs: well inside Replicate's one-hour output retention, the
 * shortest of the three vendors', even when one run is missed.
 */
export const SWEEP_CARRIES_WITHIN_S = 600;
/** Vercel Hobby runs cron jobs once a day: what vercel.json declares. */
export const DEFAULT_SWEEP_INTERVAL_S = 86_400;

/** Nothing configured carries a job: the embedded defaults and the unit tests. */
export const NO_CARRIERS: Carriers = {
  callbacks: new Set(),
  sweepCarries: false,
  unwatchedAfterMs: DEFAULT_UNWATCHED_AFTER_S * 1000,
};

/** Which settings count: a vendor's callbacks for its steps, a sweep at least every 10 minutes. */
export function carriersFrom(config: AppConfig): Carriers {
  const callbacks = new Set<StepName>();
  if (config.openai && config.openaiWebhookSecret) callbacks.add("advice");
  if (klingCallbackUrlFor(config)) callbacks.add("style").add("tryon");
  if (replicateWebhookUrlFor(config)) callbacks.add("faceswap");
  return {
    callbacks,
    sweepCarries: config.cronSecret !== null && config.sweepIntervalSeconds <= SWEEP_CARRIES_WITHIN_S,
    unwatchedAfterMs: config.unwatchedAfterSeconds * 1000,
  };
}

/**
 * True when this advance must not start the step's paid create: it is not a person's poll, nobody has
 * watched for a while, and neither the step's vendor nor the sweep would carry the result home
 * (DESIGN.md: no paid result lost to a closed tab).
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
