import ipaddr from "ipaddr.js";
import type { ClientAddressSource } from "@/lib/config";

/**
 * The one bucket every client shares when no header can be trusted: a limit keyed on a value the
 * client writes would let each request pick a fresh key.
 */
export const SHARED_CLIENT_KEY = "shared";

/** An address as a rate-limit key: IPv4 as is, IPv6 by its /64 (one subscriber's whole network). */
export function addressKeyOf(raw: string | null | undefined): string | null {
  // Some proxies write "[v6]:port" or "v4:port"; a zone id names a local interface, not a client.
  const address = raw
    ?.trim()
    .replace(/^\[([^\]]+)\](?::\d+)?$/, "$1")
    .replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, "$1")
    .replace(/%.*$/, "");
  if (!address) return null;
  if (ipaddr.IPv4.isValidFourPartDecimal(address)) return `ip:${ipaddr.IPv4.parse(address).toString()}`;
  if (!ipaddr.IPv6.isValid(address)) return null;
  const v6 = ipaddr.IPv6.parse(address);
  if (v6.isIPv4MappedAddress()) return `ip:${v6.toIPv4Address().toString()}`;
  const network = v6.parts.slice(0, 4).map((part) => part.toString(16));
  return `ip6:${network.join(":")}::/64`;
}

/** The entries of every X-Forwarded-For header, left (first hop) to right (the nearest proxy). */
function forwardedFor(request: Request): string[] {
  const header = request.headers.get("x-forwarded-for") ?? "";
  return header
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/**
 * Who the client is, for rate limits, from the only header the deployment can vouch for:
 * - on Vercel, the address its proxy writes (`x-real-ip`, what `@vercel/functions` reads;
 *   `x-vercel-forwarded-for` as a fallback) — Vercel overwrites whatever the client sent;
 * - behind the operator's proxies, the X-Forwarded-For entry the outermost trusted proxy appended:
 *   the `hops`-th from the right, since everything left of it is whatever the client wrote;
 * - otherwise (`next start` exposed directly) nothing: Next fills X-Forwarded-For from the socket
 *   only when the client sent none, so every client shares one bucket.
 * An entry that is not an IP address also falls back to the shared bucket.
 */
export function clientKeyOf(request: Request, source: ClientAddressSource): string {
  switch (source.kind) {
    case "vercel": {
      const vercelForwarded = request.headers.get("x-vercel-forwarded-for")?.split(",")[0];
      return (
        addressKeyOf(request.headers.get("x-real-ip")) ?? addressKeyOf(vercelForwarded) ?? SHARED_CLIENT_KEY
      );
    }
    case "proxy": {
      const entries = forwardedFor(request);
      return addressKeyOf(entries[entries.length - source.hops]) ?? SHARED_CLIENT_KEY;
    }
    case "untrusted":
      return SHARED_CLIENT_KEY;
  }
}
