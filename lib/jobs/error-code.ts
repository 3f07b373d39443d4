import type { JobErrorCode } from "@/lib/job-errors";
import type { ProviderError } from "@/lib/providers/types";

/**
 * The job's errorCode for a step that ended on a vendor's final answer: what the adapter read in it
 * (ProviderError.reason, from each vendor's documented codes), else `internal` — a final failure
 * nobody classified is ours to look at. Retries running out is `provider_unavailable` (advancer.ts),
 * a deadline `timed_out`, a cancel `cancelled` (stop-job.ts).
 */
export function errorCodeOf(failure: ProviderError): JobErrorCode {
  switch (failure.reason) {
    case "content_policy":
      return "content_policy";
    case "unusable_photo":
      return "unusable_photo";
    case "unavailable":
      return "provider_unavailable";
    default:
      return "internal";
  }
}
