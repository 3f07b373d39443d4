import { describe, expect, it } from "vitest";
import { vercelBlobOrigins } from "@/lib/blobs/vercel-blob-origins";
import {
  FIXED_SECURITY_HEADERS,
  PERMISSIONS_POLICY,
  pageContentSecurityPolicy,
  STRICT_TRANSPORT_SECURITY,
} from "@/lib/security-headers";
import nextConfig from "@/next.config";

describe("security headers", () => {
  it("allow only the camera, for this origin", () => {
    const features = PERMISSIONS_POLICY.split(", ").map((entry) => entry.split("="));
    expect(features.filter(([, allow]) => allow !== "()")).toEqual([["camera", "(self)"]]);
    expect(features.length).toBeGreaterThan(10);
  });

  it("send HSTS only when the request came over https, and the fixed headers on every path", async () => {
    const rules = await nextConfig().headers?.();
    expect(rules).toEqual([
      { source: "/:path*", headers: FIXED_SECURITY_HEADERS },
      {
        source: "/:path*",
        has: [{ type: "header", key: "x-forwarded-proto", value: "https" }],
        headers: [{ key: "Strict-Transport-Security", value: STRICT_TRANSPORT_SECURITY }],
      },
    ]);
    // Nothing fixed may set what a route decides itself (Next keeps the first value set).
    const fixed = FIXED_SECURITY_HEADERS.map(({ key }) => key.toLowerCase());
    expect(fixed).not.toContain("cache-control");
    expect(fixed).not.toContain("content-security-policy");
  });

  it("give the page's CSP the Blob store's origins and nothing wider; dev adds eval and websockets", () => {
    const origins = vercelBlobOrigins({ token: "vercel_blob_rw_AbC123_secret", access: "public" });
    expect(origins).toEqual(["https://abc123.public.blob.vercel-storage.com"]);
    // A private store's blobs (and so its signed URLs) live on the store's private host.
    expect(vercelBlobOrigins({ token: "vercel_blob_rw_AbC123_secret", access: "private" })).toEqual([
      "https://abc123.private.blob.vercel-storage.com",
    ]);
    expect(
      vercelBlobOrigins({ token: "not-a-token", access: "public", apiUrl: "http://127.0.0.1:3999/api" }),
    ).toEqual(["http://127.0.0.1:3999"]);
    const production = pageContentSecurityPolicy({
      imageOrigins: origins,
      connectOrigins: ["https://vercel.com/api/blob/"],
      dev: false,
    });
    expect(production).toContain("img-src 'self' blob: data: https://abc123.public.blob.vercel-storage.com;");
    expect(production).toContain("connect-src 'self' https://vercel.com/api/blob/;");
    expect(production).not.toMatch(/'unsafe-eval'|ws:|https:[;\s]/);
    const dev = pageContentSecurityPolicy({ imageOrigins: [], connectOrigins: [], dev: true });
    expect(dev).toContain("script-src 'self' 'unsafe-inline' 'unsafe-eval'");
    expect(dev).toContain("connect-src 'self' ws:");
  });
});
