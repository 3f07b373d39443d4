import { klingCallbackUrlFor, replicateWebhookUrlFor } from "@/lib/callbacks/callback-urls";
import type { AppConfig } from "@/lib/config";
import type { Carriers } from "@/lib/jobs/unattended";
import type { StepName } from "@/lib/step-catalogue";

/**
 * A sweep this often (or more) carries jobs: well inside Replicate's one-hour output retention, the
 * shortest of the three vendors', even when one run is missed.
 */
export const SWEEP_CARRIES_WITHIN_S = 600;

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
