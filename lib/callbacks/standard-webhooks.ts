import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Standard Webhooks verification (standardwebhooks.com), the scheme Replicate and OpenAI sign with:
 * `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
 */

/** A delivery older or newer than this (seconds) is refused: a captured one cannot be replayed later. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

export type WebhookRefusal = "missing_headers" | "invalid_timestamp" | "stale" | "bad_signature";

export type WebhookVerification =
  | { ok: true; webhookId: string; timestamp: number }
  | { ok: false; reason: WebhookRefusal };

export interface VerifyWebhookInput {
  /** `whsec_<base64>`, as the vendor's dashboard shows it. */
  secret: string;
  headers: Pick<Headers, "get">;
  /** The raw request body, exactly as received (never re-serialised JSON). */
  body: string | Uint8Array;
  /** The clock (ms epoch); tests pass a fixed one. */
  now?: number;
  toleranceSeconds?: number;
}

/** The HMAC key: after `whsec_` it is base64; a bare secret is used as UTF-8 text, as OpenAI's SDK does. */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith("whsec_")
    ? Buffer.from(secret.slice("whsec_".length), "base64")
    : Buffer.from(secret, "utf8");
}

function expectedSignature(key: Buffer, id: string, timestamp: string, body: string | Uint8Array): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** True when one of the header's `v1,` signatures matches; each is compared in constant time. */
function anySignatureMatches(header: string, expected: Buffer): boolean {
  return header
    .split(" ")
    .filter((part) => part.startsWith("v1,"))
    .some((part) => {
      const given = Buffer.from(part.slice(3), "base64");
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

/** Checks a delivery's headers, freshness and signature; the reason of a refusal is for the log. */
export function verifyStandardWebhook(input: VerifyWebhookInput): WebhookVerification {
  const webhookId = input.headers.get("webhook-id");
  const rawTimestamp = input.headers.get("webhook-timestamp");
  const signatures = input.headers.get("webhook-signature");
  if (!webhookId || !rawTimestamp || !signatures) return { ok: false, reason: "missing_headers" };
  if (!/^\d{1,15}$/.test(rawTimestamp)) return { ok: false, reason: "invalid_timestamp" };
  const timestamp = Number(rawTimestamp);
  const nowSeconds = Math.floor((input.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - timestamp) > (input.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS)) {
    return { ok: false, reason: "stale" };
  }
  const expected = expectedSignature(webhookKey(input.secret), webhookId, rawTimestamp, input.body);
  if (!anySignatureMatches(signatures, expected)) return { ok: false, reason: "bad_signature" };
  return { ok: true, webhookId, timestamp };
}
