import { after, NextResponse } from "next/server";
import { errorResponse } from "@/lib/errors";
import { otherMethods } from "@/lib/http";
import { advance } from "@/lib/jobs/advance";
import { readStartForm } from "@/lib/jobs/read-start-form";
import { startJob } from "@/lib/jobs/start-job";
import { logEvent } from "@/lib/log";
import { clientKeyOf } from "@/lib/request";
import { getRuntime } from "@/lib/runtime";
import { isJsonRequest } from "@/lib/uploads/read-json-body";
import { startJobFromUploads } from "@/lib/uploads/start-job-from-uploads";

export const runtime = "nodejs";
export const { GET, PUT, PATCH, DELETE } = otherMethods("POST");
export const maxDuration = 60;

export async function POST(request: Request) {
  try {
    const rt = getRuntime();
    // JSON carries the URLs of direct uploads to Blob; multipart carries the photos themselves.
    const job = isJsonRequest(request)
      ? await startJobFromUploads(rt, request, clientKeyOf(request, rt.config.clientAddress))
      : await startJob(rt, await readStartForm(request), clientKeyOf(request, rt.config.clientAddress));
    // The first step starts after the answer; if this dies, the first poll picks the work up.
    after(() =>
      advance(job.id, rt).catch((error: unknown) =>
        logEvent("advance.failed", { jobId: job.id, error: String(error) }),
      ),
    );
    return NextResponse.json(
      { jobId: job.id },
      {
        status: 202,
        headers: { Location: `/api/generation/status?jobId=${job.id}`, "Cache-Control": "no-store" },
      },
    );
  } catch (error) {
    return errorResponse(error);
  }
}
