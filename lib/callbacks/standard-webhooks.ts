import { Webhook, WebhookVerificationError } from "standardwebhooks";

/**
 * Standard Webhooks (standardwebhooks.com), the scheme Replicate and OpenAI sign with:
 * `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
 * The headers and their freshness are checked here before any of the body is read; the signature
 * over the body is the `standardwebhooks` package's (its reference verifier).
 */

/** A delivery older or newer than this (seconds) is refused: a captured one cannot be replayed later. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

export type WebhookRefusal = "missing_headers" | "invalid_timestamp" | "stale" | "bad_signature";

export type WebhookHeaderCheck =
  | { ok: true; webhookId: string; timestamp: number }
  | { ok: false; reason: WebhookRefusal };

type HeaderSource = Pick<Headers, "get">;

/** The HMAC key: after `whsec_` it is base64; a bare secret is used as UTF-8 text, as OpenAI's SDK does. */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith("whsec_")
    ? Buffer.from(secret.slice("whsec_".length), "base64")
    : Buffer.from(secret, "utf8");
}

/** The three headers present, and a timestamp in seconds within the tolerance of `now` (ms epoch). */
export function checkWebhookHeaders(headers: HeaderSource, now = Date.now()): WebhookHeaderCheck {
  const webhookId = headers.get("webhook-id");
  const rawTimestamp = headers.get("webhook-timestamp");
  const signatures = headers.get("webhook-signature");
  if (!webhookId || !rawTimestamp || !signatures) return { ok: false, reason: "missing_headers" };
  // Stricter than the package's parseInt, which reads "2027-01-15T08:00:00Z" as 2027.
  if (!/^\d{1,15}$/.test(rawTimestamp)) return { ok: false, reason: "invalid_timestamp" };
  const timestamp = Number(rawTimestamp);
  if (Math.abs(Math.floor(now / 1000) - timestamp) > WEBHOOK_TOLERANCE_SECONDS) {
    return { ok: false, reason: "stale" };
  }
  return { ok: true, webhookId, timestamp };
}

/**
 * True when one of the `v1,` signatures is the body's under `secret` (compared in constant time by
 * the package). Its own freshness check runs again on the real clock; ours ran before the body.
 */
export function isSignedBody(secret: string, headers: HeaderSource, body: Buffer): boolean {
  const names = ["webhook-id", "webhook-timestamp", "webhook-signature"] as const;
  const signed = Object.fromEntries(names.map((name) => [name, headers.get(name) ?? ""]));
  try {
    new Webhook(webhookKey(secret), { format: "raw" }).verify(body, signed, { jsonParse: false });
    return true;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
}
