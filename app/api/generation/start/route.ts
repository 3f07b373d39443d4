// POST /api/generation/start: starts a look from a multipart form or from direct uploads (JSON).
import { after, NextResponse } from "next/server";
import { route } from "@/lib/http";
import { advance } from "@/lib/jobs/advance";
import { readStartForm } from "@/lib/jobs/read-start-form";
import { idempotencyKeyOf } from "@/lib/jobs/start-idempotency";
import { startJob } from "@/lib/jobs/start-job";
import { logEvent } from "@/lib/log";
import { clientKeyOf } from "@/lib/request";
import { getRuntime } from "@/lib/runtime";
import { isJsonRequest } from "@/lib/uploads/read-json-body";
import { startJobFromUploads } from "@/lib/uploads/start-job-from-uploads";

export const runtime = "nodejs";
export const maxDuration = 60;

async function start(request: Request) {
  const rt = getRuntime();
  const client = {
    key: clientKeyOf(request, rt.config.clientAddress),
    idempotencyKey: idempotencyKeyOf(request),
  };
  // JSON carries the URLs of direct uploads to Blob; multipart carries the photos themselves.
  const { jobId, replayed } = isJsonRequest(request)
    ? await startJobFromUploads(rt, request, client)
    : await startJob(rt, await readStartForm(request, rt.config.uploadDeadlines), client);
  // The first step starts after the answer; if this dies, the first poll picks the work up.
  if (!replayed) {
    after(() => advance(jobId, rt).catch((error: unknown) => logEvent("advance.failed", { jobId, error })));
  }
  return NextResponse.json(
    { jobId },
    {
      status: 202,
      headers: {
        Location: `/api/generation/status?jobId=${jobId}`,
        // Stripe's header: this answer repeats the one the key's first request got.
        ...(replayed ? { "Idempotent-Replayed": "true" } : {}),
      },
    },
  );
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ POST: start });
