import type { AppConfig } from "@/lib/config";
import { parseJobId } from "@/lib/jobs/job-id";
import { klingCallbackToken } from "./kling-token";

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

/** Kling's callback URL (with the job's token) when PUBLIC_BASE_URL is set, else undefined. */
export function klingCallbackUrlFor(config: AppConfig): CallbackUrlBuilder | undefined {
  const { publicBaseUrl, kling } = config;
  if (!publicBaseUrl || !kling) return undefined;
  return (idempotencyKey) => {
    const jobId = jobIdOfIdempotencyKey(idempotencyKey);
    if (!jobId) return undefined;
    const token = klingCallbackToken(kling.secretKey, jobId);
    return `${publicBaseUrl}/api/generation/callback/kling?jobId=${jobId}&token=${token}`;
  };
}

/** Replicate's webhook URL when PUBLIC_BASE_URL and its signing secret are set, else undefined. */
export function replicateWebhookUrlFor(config: AppConfig): CallbackUrlBuilder | undefined {
  const { publicBaseUrl, replicateWebhookSecret } = config;
  if (!publicBaseUrl || !replicateWebhookSecret) return undefined;
  return (idempotencyKey) => {
    const jobId = jobIdOfIdempotencyKey(idempotencyKey);
    return jobId ? `${publicBaseUrl}/api/generation/callback/replicate?jobId=${jobId}` : undefined;
  };
}
