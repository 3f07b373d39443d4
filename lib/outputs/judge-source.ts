import type { OutputSources } from "@/lib/providers/types";

/**
 * Whether an output URL may be fetched, and on what terms: the configured API origin is trusted as the
 * operator configured it; a delivery host only over https, and only once its addresses prove public.
 */
export type SourceVerdict =
  | { allowed: true; trust: "api-origin" | "delivery-host" }
  | { allowed: false; reason: string };

/** "*.example.com" matches any subdomain of example.com; anything else matches only itself. */
function matchesHost(hostname: string, pattern: string): boolean {
  const wanted = pattern.toLowerCase();
  if (wanted.startsWith("*.")) return hostname.endsWith(wanted.slice(1));
  return hostname === wanted;
}

/** Judges one URL (the first or a redirect's) against a provider's declared output sources. */
export function judgeSource(url: URL, sources: OutputSources): SourceVerdict {
  if (url.username || url.password) return { allowed: false, reason: "the URL carries credentials" };
  if (sources.apiOrigin !== null && url.origin === sources.apiOrigin)
    return { allowed: true, trust: "api-origin" };
  // URL() lower-cases host names; a trailing dot names the same host.
  const hostname = url.hostname.replace(/\.$/, "");
  if (sources.deliveryHosts.some((pattern) => matchesHost(hostname, pattern))) {
    if (url.protocol !== "https:") return { allowed: false, reason: `${url.protocol} is not https:` };
    // A CDN answers on 443; another port on a delivery host is not how the vendor delivers.
    if (url.port !== "") return { allowed: false, reason: `port ${url.port} is not the https port` };
    return { allowed: true, trust: "delivery-host" };
  }
  return {
    allowed: false,
    reason: `host ${url.hostname} is neither a delivery host (${sources.deliveryHosts.join(", ")}) nor the API origin (${sources.apiOrigin ?? "none"})`,
  };
}
