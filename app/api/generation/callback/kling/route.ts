import { klingTaskIdOf, verifyKlingCallback } from "@/lib/callbacks/kling-callback";
import { nudgeJob } from "@/lib/callbacks/nudge-job";
import { callbackAccepted, callbacksDisabled } from "@/lib/callbacks/responses";
import { errorResponse } from "@/lib/errors";
import { otherMethods } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const { GET, PUT, PATCH, DELETE } = otherMethods("POST");
export const maxDuration = 60;

/** Kling posts a task on each status change, unsigned: the URL's per-job token is all we trust. */
export async function POST(request: Request) {
  try {
    const rt = getRuntime();
    if (!rt.config.kling) return callbacksDisabled("Kling");
    const jobId = verifyKlingCallback(new URL(request.url).searchParams, rt.config.kling.secretKey);
    const taskId = klingTaskIdOf(await request.json().catch(() => null));
    await nudgeJob(rt, async () => jobId, { source: "kling", taskId });
    return callbackAccepted();
  } catch (error) {
    return errorResponse(error);
  }
}
