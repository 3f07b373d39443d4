import { apiOriginOf } from "@/lib/providers/api-origin";
import type { OutputSources } from "@/lib/providers/types";

/**
 * Replicate serves prediction output files from `replicate.delivery` and its subdomains
 * (https://replicate.com/docs/topics/predictions/output-files, "Output file domains"; e.g.
 * `https://replicate.delivery/yhqm/…/out-0.jpg`, older `pbxt.replicate.delivery`).
 */
export const REPLICATE_DELIVERY_HOSTS = ["replicate.delivery", "*.replicate.delivery"] as const;

/** Where a Replicate output URL may point: its delivery hosts, or the configured API's own origin. */
export function replicateOutputSources(baseUrl: string): OutputSources {
  return { deliveryHosts: REPLICATE_DELIVERY_HOSTS, apiOrigin: apiOriginOf(baseUrl) };
}
