// DELETE /api/generation/jobs/{jobId}: the owner deletes one look, with every photo and file of it.
import { NextResponse } from "next/server";
import { route } from "@/lib/http";
import { parseJobId } from "@/lib/jobs/job-id";
import { deleteOwnedLook } from "@/lib/jobs/owner-looks";
import { callerOwnerHash } from "@/lib/owners/owner-cookie";
import { refuseCrossSite } from "@/lib/owners/same-origin";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 60;

async function deleteLook(request: Request, { params }: { params: Promise<{ jobId: string }> }) {
  refuseCrossSite(request);
  const jobId = parseJobId((await params).jobId);
  await deleteOwnedLook(getParts(), jobId, callerOwnerHash(request));
  return new NextResponse(null, { status: 204 });
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ DELETE: deleteLook });
