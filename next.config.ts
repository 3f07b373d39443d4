import type { NextConfig } from "next";
import { FIXED_SECURITY_HEADERS, STRICT_TRANSPORT_SECURITY } from "./lib/security-headers";

/** These headers are fixed at build time; the page's CSP depends on run-time config (proxy.ts). */
export default function nextConfig(): NextConfig {
  return {
    // Loaded from node_modules at run time rather than bundled (Node-only clients).
    serverExternalPackages: ["redis", "@redis/client", "busboy"],
    poweredByHeader: false,
    async headers() {
      return [
        { source: "/:path*", headers: FIXED_SECURITY_HEADERS },
        {
          // Only over https (Vercel and TLS-terminating proxies say so in X-Forwarded-Proto): a
          // browser ignores it over http anyway, and a local `next start` must stay reachable.
          source: "/:path*",
          has: [{ type: "header", key: "x-forwarded-proto", value: "https" }],
          headers: [{ key: "Strict-Transport-Security", value: STRICT_TRANSPORT_SECURITY }],
        },
      ];
    },
  };
}
