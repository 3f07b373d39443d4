import { AppError } from "@/lib/errors";
import type { JobStore } from "@/lib/jobs/job-store";
import { logEvent } from "@/lib/log";
import { CLOSE_CONNECTION, readCallbackBody } from "./callback-body";
import { checkWebhookHeaders, isSignedBody, WEBHOOK_TOLERANCE_SECONDS } from "./standard-webhooks";

/** A delivery is fresh for ± the tolerance, so its id must be remembered for twice that. */
const REPLAY_WINDOW_MS = 2 * WEBHOOK_TOLERANCE_SECONDS * 1000;

export interface SignedWebhook {
  webhookId: string;
  payload: unknown;
  /**
   * This webhook-id was accepted before: a vendor's retry (our first answer was lost) or a replay.
   * Either way it must not nudge again.
   */
  duplicate: boolean;
}

export interface ReceiveWebhookOptions {
  /** Names the vendor in logs and keeps each vendor's webhook ids apart. */
  source: "replicate" | "openai";
  secret: string;
  store: JobStore;
}

function refused(source: string, reason: string, headers: Record<string, string> = {}): AppError {
  logEvent("callback.refused", { source, reason });
  return new AppError("unauthorized", "This callback could not be verified.", { headers });
}

/**
 * Checks a delivery's Standard-Webhooks headers and freshness before reading any of the body (else
 * 401 `unauthorized`), reads the body under the callback cap (else 413), verifies its signature
 * (else 401) and records its webhook-id. Only verified deliveries touch the store.
 */
export async function receiveSignedWebhook(
  request: Request,
  { source, secret, store }: ReceiveWebhookOptions,
): Promise<SignedWebhook> {
  const headers = checkWebhookHeaders(request.headers);
  if (!headers.ok) throw refused(source, headers.reason, CLOSE_CONNECTION);
  const body = await readCallbackBody(request);
  if (!isSignedBody(secret, request.headers, body)) throw refused(source, "bad_signature");
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new AppError("invalid_request", "The callback body is not JSON.", { cause: error });
  }
  const { webhookId } = headers;
  const { count } = await store.hit(`webhook:${source}:${webhookId}`, REPLAY_WINDOW_MS);
  if (count > 1) logEvent("callback.duplicate", { source, webhookId });
  return { webhookId, payload, duplicate: count > 1 };
}
