import { after, NextResponse } from "next/server";
import { errorResponse } from "@/lib/errors";
import { otherMethods } from "@/lib/http";
import { advance } from "@/lib/jobs/advance";
import { readStartForm } from "@/lib/jobs/read-start-form";
import { idempotencyKeyOf } from "@/lib/jobs/start-idempotency";
import { startJob } from "@/lib/jobs/start-job";
import { logEvent } from "@/lib/log";
import { clientKeyOf } from "@/lib/request";
import { isJsonRequest } from "@/lib/uploads/read-json-body";
import { startJobFromUploads } from "@/lib/uploads/start-job-from-uploads";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const { GET, PUT, PATCH, DELETE } = otherMethods("POST");
export const maxDuration = 60;

export async function POST(request: Request) {
  try {
    const parts = getParts();
    const client = {
      key: clientKeyOf(request, parts.config.clientAddress),
      idempotencyKey: idempotencyKeyOf(request),
    };
    // JSON carries the URLs of direct uploads to Blob; multipart carries the photos themselves.
    const { jobId, replayed } = isJsonRequest(request)
      ? await startJobFromUploads(parts, request, client)
      : await startJob(parts, await readStartForm(request, parts.config.uploadDeadlines), client);
    // The first step starts after the answer; if this dies, the first poll picks the work up.
    if (!replayed) {
      after(() =>
        advance(jobId, parts).catch((error: unknown) => logEvent("advance.failed", { jobId, error })),
      );
    }
    return NextResponse.json(
      { jobId },
      {
        status: 202,
        headers: {
          Location: `/api/generation/status?jobId=${jobId}`,
          "Cache-Control": "no-store",
          // Stripe's header: this answer repeats the one the key's first request got.
          ...(replayed ? { "Idempotent-Replayed": "true" } : {}),
        },
      },
    );
  } catch (error) {
    return errorResponse(error);
  }
}
