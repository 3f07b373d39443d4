import { AppError } from "@/lib/errors";
import { logEvent } from "@/lib/log";
import type { JobStore } from "@/lib/store/types";
import { verifyStandardWebhook, WEBHOOK_TOLERANCE_SECONDS } from "./standard-webhooks";

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

/**
 * Reads the raw body once, verifies its Standard-Webhooks signature and freshness (else 401
 * `unauthorized`), and records its webhook-id. Only verified deliveries touch the store.
 */
export async function receiveSignedWebhook(
  request: Request,
  { source, secret, store }: ReceiveWebhookOptions,
): Promise<SignedWebhook> {
  const body = Buffer.from(await request.arrayBuffer());
  const verification = verifyStandardWebhook({ secret, headers: request.headers, body });
  if (!verification.ok) {
    logEvent("callback.refused", { source, reason: verification.reason });
    throw new AppError("unauthorized", "This callback could not be verified.");
  }
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new AppError("invalid_request", "The callback body is not JSON.", { cause: error });
  }
  const { webhookId } = verification;
  const { count } = await store.hit(`webhook:${source}:${webhookId}`, REPLAY_WINDOW_MS);
  if (count > 1) logEvent("callback.duplicate", { source, webhookId });
  return { webhookId, payload, duplicate: count > 1 };
}
