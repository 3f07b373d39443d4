import type { AppConfig } from "@/lib/config";
import { parseJobId } from "@/lib/jobs/job-id";
import { STEP_NAMES, type StepName } from "@/lib/step-catalogue";
import { type CallbackVendor, callbackQuery } from "./callback-token";

/** Builds a provider's callback URL from a submit's idempotency key, or undefined for none. */
export type CallbackUrlBuilder = (idempotencyKey: string) => string | undefined;

const UUID_CHARS = 36;

/** The job id at the head of an idempotency key (`{jobId}-{step}-{attempt}`), or null. */
export function jobIdOfIdempotencyKey(idempotencyKey: string): string | null {
  if (idempotencyKey.charAt(UUID_CHARS) !== "-") return null;
  try {
    return parseJobId(idempotencyKey.slice(0, UUID_CHARS));
  } catch {
    return null;
  }
}

/** The job and step an idempotency key names, or null for a key of another shape. */
export function stepOfIdempotencyKey(idempotencyKey: string): { jobId: string; step: StepName } | null {
  const jobId = jobIdOfIdempotencyKey(idempotencyKey);
  const step = STEP_NAMES.find((name) => idempotencyKey.startsWith(`${name}-`, UUID_CHARS + 1));
  return jobId && step ? { jobId, step } : null;
}

/** The vendor's signed callback URL for the key's job and step; undefined for a key of another shape. */
function signedUrlBuilder(publicBaseUrl: string, secret: string, vendor: CallbackVendor): CallbackUrlBuilder {
  return (idempotencyKey) => {
    const claims = stepOfIdempotencyKey(idempotencyKey);
    if (!claims) return undefined;
    const query = callbackQuery(secret, { vendor, ...claims });
    return `${publicBaseUrl}/api/generation/callback/${vendor}?${query}`;
  };
}

/** Kling's callback URL when PUBLIC_BASE_URL and CALLBACK_SECRET are set, else undefined (polling only). */
export function klingCallbackUrlFor(config: AppConfig): CallbackUrlBuilder | undefined {
  const { publicBaseUrl, kling, callbackSecret } = config;
  if (!publicBaseUrl || !kling || !callbackSecret) return undefined;
  return signedUrlBuilder(publicBaseUrl, callbackSecret, "kling");
}

/**
 * Replicate's webhook URL when PUBLIC_BASE_URL, CALLBACK_SECRET and its signing secret are set: the
 * signature covers the body, the URL's token the job it is for.
 */
export function replicateWebhookUrlFor(config: AppConfig): CallbackUrlBuilder | undefined {
  const { publicBaseUrl, replicateWebhookSecret, callbackSecret } = config;
  if (!publicBaseUrl || !replicateWebhookSecret || !callbackSecret) return undefined;
  return signedUrlBuilder(publicBaseUrl, callbackSecret, "replicate");
}
