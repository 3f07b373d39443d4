import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Kling's callbacks are unsigned, so the callback URL carries a per-job token only we can compute:
 * HMAC-SHA256(KLING_SECRET_KEY, "kling-callback:{jobId}") in hex, cut to 128 bits.
 */
const TOKEN_HEX_CHARS = 32;

export function klingCallbackToken(secretKey: string, jobId: string): string {
  return createHmac("sha256", secretKey)
    .update(`kling-callback:${jobId}`)
    .digest("hex")
    .slice(0, TOKEN_HEX_CHARS);
}

/** Compares in constant time, so the answer's timing reveals nothing about the expected token. */
export function isKlingCallbackToken(secretKey: string, jobId: string, token: string | null): boolean {
  if (!token) return false;
  const expected = Buffer.from(klingCallbackToken(secretKey, jobId));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
