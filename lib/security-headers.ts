/**
 * The response headers that protect the page and the people in its photos. next.config.ts sends the
 * fixed ones on every answer; proxy.ts adds the page's Content-Security-Policy, which depends on the
 * Blob store configured at run time (a build serves any configuration).
 */

/** Only the camera, and only for this origin (photo capture); every other powerful feature is off. */
export const PERMISSIONS_POLICY = [
  "camera=(self)",
  "microphone=()",
  "geolocation=()",
  "display-capture=()",
  "screen-wake-lock=()",
  "payment=()",
  "usb=()",
  "serial=()",
  "hid=()",
  "bluetooth=()",
  "midi=()",
  "accelerometer=()",
  "gyroscope=()",
  "magnetometer=()",
  "publickey-credentials-get=()",
  "browsing-topics=()",
].join(", ");

/** Two years, the preload lists' minimum; subdomains of the app's host are its own. */
export const STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains";

/** Sent on every answer, API and page alike. */
export const FIXED_SECURITY_HEADERS = [
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
  { key: "X-Frame-Options", value: "DENY" },
  { key: "Permissions-Policy", value: PERMISSIONS_POLICY },
];

/**
 * `@vercel/blob/client`'s upload() always talks to this API from the browser (it has no run-time
 * setting); the path keeps connect-src to Blob's upload API rather than all of vercel.com.
 */
export const BLOB_UPLOAD_API = "https://vercel.com/api/blob/";

export interface PagePolicyOptions {
  /** Origins the page loads stored images from, besides itself: the Blob store in use (none locally). */
  imageOrigins: readonly string[];
  /** Origins the page sends to, besides itself: Blob's upload API when photos go straight to Blob. */
  connectOrigins: readonly string[];
  /** `next dev`: React Refresh needs eval and a websocket. */
  dev: boolean;
}

/**
 * The page's Content-Security-Policy. Next's hydration uses inline scripts ('unsafe-inline' until
 * nonces are worth dynamic rendering); previews are blob: URLs and small icons data: URLs.
 */
export function pageContentSecurityPolicy({ imageOrigins, connectOrigins, dev }: PagePolicyOptions): string {
  const list = (origins: readonly string[]) => origins.map((origin) => ` ${origin}`).join("");
  return [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline'${dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    `img-src 'self' blob: data:${list(imageOrigins)}`,
    "font-src 'self' data:",
    `connect-src 'self'${list(connectOrigins)}${dev ? " ws:" : ""}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}
