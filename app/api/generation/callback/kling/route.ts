// POST /api/generation/callback/kling: Kling's task callback, trusted only through the URL's signed token.
import { readCallbackBody } from "@/lib/callbacks/callback-body";
import { authorizeCallback } from "@/lib/callbacks/callback-token";
import { klingTaskIdOf } from "@/lib/callbacks/kling-callback";
import { nudgeJob } from "@/lib/callbacks/nudge-job";
import { callbackAccepted, callbacksDisabled } from "@/lib/callbacks/responses";
import { route } from "@/lib/http";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 60;

/** Kling posts a task on each status change, unsigned: the URL's signed token is all we trust. */
async function klingCallback(request: Request) {
  const parts = getParts();
  const { kling, callbackSecret } = parts.config;
  if (!kling || !callbackSecret) return callbacksDisabled("Kling");
  const { jobId, step } = authorizeCallback(callbackSecret, "kling", new URL(request.url).searchParams);
  const taskId = klingTaskIdOf(await readCallbackBody(request));
  await nudgeJob(parts, async () => jobId, { source: "kling", step, taskId });
  return callbackAccepted();
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ POST: klingCallback });
