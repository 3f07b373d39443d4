// POST /api/generation/jobs/{jobId}/cancel: the owner stops a look at once; answers its public view.
import { NextResponse } from "next/server";
import { route } from "@/lib/http";
import { cancelLook } from "@/lib/jobs/cancel-job";
import { parseJobId } from "@/lib/jobs/job-id";
import { publicJobOf } from "@/lib/jobs/public-view";
import { callerOwnerHash } from "@/lib/owners/owner-cookie";
import { refuseCrossSite } from "@/lib/owners/same-origin";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";

type Context = { params: Promise<{ jobId: string }> };

async function cancel(request: Request, { params }: Context) {
  refuseCrossSite(request);
  const jobId = parseJobId((await params).jobId);
  const ownerHash = callerOwnerHash(request);
  const parts = getParts();
  const job = await cancelLook(parts, jobId, ownerHash);
  // Image addresses from the blob store, as in the status view (signed for a private store).
  return NextResponse.json(await publicJobOf(job, parts.blobs, ownerHash));
}

export const { GET, POST, PUT, PATCH, DELETE } = route<Context>({ POST: cancel });
