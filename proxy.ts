import { NextResponse } from "next/server";
import { vercelBlobOrigins } from "@/lib/blobs/vercel-blob-origins";
import { type AppConfig, getConfig } from "@/lib/config";
import { BLOB_UPLOAD_API, pageContentSecurityPolicy } from "@/lib/security-headers";

/** The page's policy for this configuration: its own origin, plus the Blob store when one is in use. */
function policyFor(config: AppConfig): string {
  const blob = config.blobs.kind === "vercel-blob" ? config.blobs : null;
  return pageContentSecurityPolicy({
    imageOrigins: blob ? vercelBlobOrigins(blob) : [],
    connectOrigins: blob ? [BLOB_UPLOAD_API] : [],
    dev: config.devServer,
  });
}

let cached: string | undefined;

function pagePolicy(): string {
  if (cached === undefined) {
    try {
      cached = policyFor(getConfig());
    } catch {
      // A broken configuration still gets a page (its API answers say what is wrong): the strictest one.
      cached = pageContentSecurityPolicy({ imageOrigins: [], connectOrigins: [], dev: false });
    }
  }
  return cached;
}

/** Adds the Content-Security-Policy to pages; the fixed headers come from next.config.ts. */
export function proxy(): NextResponse {
  const response = NextResponse.next();
  response.headers.set("Content-Security-Policy", pagePolicy());
  return response;
}

export const config = {
  // Pages only: a proxy on /api would copy request bodies (uploads, callbacks) through itself.
  matcher: [
    {
      source: "/((?!api|_next/static|_next/image|favicon.ico).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};
