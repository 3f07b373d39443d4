// POST /api/generation/callback/openai: the OpenAI project's signed webhook (Standard Webhooks).
import { nudgeJob } from "@/lib/callbacks/nudge-job";
import { responseIdOfEvent, taskOfResponse } from "@/lib/callbacks/openai-event";
import { callbackAccepted, callbacksDisabled } from "@/lib/callbacks/responses";
import { receiveSignedWebhook } from "@/lib/callbacks/signed-webhook";
import { route } from "@/lib/http";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 60;

/** The project webhook set in OpenAI's dashboard: every event of the project arrives here. */
async function openaiCallback(request: Request) {
  const parts = getParts();
  const { openai, openaiWebhookSecret: secret } = parts.config;
  if (!openai || !secret) return callbacksDisabled("OpenAI");
  const { webhookId, payload, duplicate } = await receiveSignedWebhook(request, {
    source: "openai",
    secret,
    store: parts.store,
  });
  if (duplicate) return callbackAccepted({ duplicate: true });
  const responseId = responseIdOfEvent(payload);
  if (!responseId) return callbackAccepted({ ignored: true });
  // The response names its create's idempotency key: a create whose answer was lost is adopted.
  await nudgeJob(parts, () => taskOfResponse(openai, responseId), {
    source: "openai",
    webhookId,
    responseId,
  });
  return callbackAccepted();
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ POST: openaiCallback });
