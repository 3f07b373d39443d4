import { createHmac, randomBytes } from "node:crypto";

/**
 * Standard-Webhooks signing as Replicate and OpenAI document it, written apart from
 * the app's verifier so each checks the other: `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "{id}.{timestamp}.{body}">`, keyed with the base64 after `whsec_`.
 */

/** One POST an emulator made, with the answer it got (null: the app could not be reached). */
export interface WebhookDelivery {
  url: string;
  headers: Record<string, string>;
  body: string;
  status: number | null;
}

/** The three headers of a signed delivery; `timestamp` in seconds (default now). */
export function signWebhook(
  secret: string,
  webhookId: string,
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const key = secret.startsWith("whsec_")
    ? Buffer.from(secret.slice(6), "base64")
    : Buffer.from(secret, "utf8");
  const signature = createHmac("sha256", key).update(`${webhookId}.${timestamp}.${body}`).digest("base64");
  return {
    "webhook-id": webhookId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${signature}`,
  };
}

/** A fresh `whsec_` secret, as a vendor's dashboard shows it. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

/** Signs and POSTs `body` once (no retries) and reports what happened. */
export async function deliverWebhook(
  url: string,
  secret: string,
  webhookId: string,
  body: string,
): Promise<WebhookDelivery> {
  const headers = { "content-type": "application/json", ...signWebhook(secret, webhookId, body) };
  const status = await fetch(url, { method: "POST", headers, body })
    .then(async (response) => {
      await response.arrayBuffer();
      return response.status;
    })
    .catch(() => null);
  return { url, headers, body, status };
}
