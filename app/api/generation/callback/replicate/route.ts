// POST /api/generation/callback/replicate: Replicate's signed webhook for a face-swap prediction.
import { authorizeCallback } from "@/lib/callbacks/callback-token";
import { nudgeJob } from "@/lib/callbacks/nudge-job";
import { predictionIdOf } from "@/lib/callbacks/replicate-webhook";
import { callbackAccepted, callbacksDisabled } from "@/lib/callbacks/responses";
import { receiveSignedWebhook } from "@/lib/callbacks/signed-webhook";
import { route } from "@/lib/http";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 60;

/**
 * Replicate's signed webhook for a face-swap prediction: the URL's token names the job, the
 * signature covers the body, and the prediction is re-fetched, not trusted.
 */
async function replicateCallback(request: Request) {
  const parts = getParts();
  const { replicateWebhookSecret: secret, callbackSecret } = parts.config;
  if (!secret || !callbackSecret) return callbacksDisabled("Replicate");
  const { jobId, step } = authorizeCallback(callbackSecret, "replicate", new URL(request.url).searchParams);
  const { webhookId, payload, duplicate } = await receiveSignedWebhook(request, {
    source: "replicate",
    secret,
    store: parts.store,
  });
  if (duplicate) return callbackAccepted({ duplicate: true });
  const predictionId = predictionIdOf(payload);
  await nudgeJob(parts, async () => jobId, { source: "replicate", step, webhookId, predictionId });
  return callbackAccepted();
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ POST: replicateCallback });
