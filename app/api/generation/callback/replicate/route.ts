import { nudgeJob } from "@/lib/callbacks/nudge-job";
import { predictionIdOf } from "@/lib/callbacks/replicate-webhook";
import { callbackAccepted, callbacksDisabled } from "@/lib/callbacks/responses";
import { receiveSignedWebhook } from "@/lib/callbacks/signed-webhook";
import { errorResponse } from "@/lib/errors";
import { otherMethods } from "@/lib/http";
import { parseJobId } from "@/lib/jobs/job-id";
import { getRuntime } from "@/lib/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const { GET, PUT, PATCH, DELETE } = otherMethods("POST");
export const maxDuration = 60;

/** Replicate's signed webhook for a face-swap prediction; the prediction is re-fetched, not trusted. */
export async function POST(request: Request) {
  try {
    const rt = getRuntime();
    const secret = rt.config.replicateWebhookSecret;
    if (!secret) return callbacksDisabled("Replicate");
    const jobId = parseJobId(new URL(request.url).searchParams.get("jobId"));
    const { webhookId, payload, duplicate } = await receiveSignedWebhook(request, {
      source: "replicate",
      secret,
      store: rt.store,
    });
    if (duplicate) return callbackAccepted({ duplicate: true });
    const predictionId = predictionIdOf(payload);
    await nudgeJob(rt, async () => jobId, { source: "replicate", webhookId, predictionId });
    return callbackAccepted();
  } catch (error) {
    return errorResponse(error);
  }
}
