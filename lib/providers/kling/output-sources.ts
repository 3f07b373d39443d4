import { apiOriginOf } from "@/lib/providers/api-origin";
import type { OutputSources } from "@/lib/providers/types";

/**
 * Kling answers `task_result.images[].url` on its own CDN under klingai.com: `cdn.klingai.com` and
 * sharded hosts such as `s15-kling.klingai.com`, `p2-kling.klingai.com` (seen in published API answers;
 * Kling's reference names no host list, so the whole klingai.com zone is trusted, over https only).
 */
export const KLING_DELIVERY_HOSTS = ["klingai.com", "*.klingai.com"] as const;

/** Where a Kling output URL may point: its CDN, or the configured API's own origin (a proxy, the emulator). */
export function klingOutputSources(baseUrl: string): OutputSources {
  return { deliveryHosts: KLING_DELIVERY_HOSTS, apiOrigin: apiOriginOf(baseUrl) };
}
