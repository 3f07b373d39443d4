// GET /api/generation/jobs: the caller's looks. DELETE: all of them, with every photo and file.
import { after, NextResponse } from "next/server";
import { route } from "@/lib/http";
import { deleteAllOwnedLooks, listOwnedLooks } from "@/lib/jobs/owner-looks";
import { sweepExpiredJobsIfDue } from "@/lib/jobs/retention";
import { callerOwnerHash } from "@/lib/owners/owner-cookie";
import { refuseCrossSite } from "@/lib/owners/same-origin";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 60;

async function list(request: Request) {
  const parts = getParts();
  after(() => sweepExpiredJobsIfDue(parts, { everyMs: parts.config.retentionSweepSeconds * 1000 }));
  return NextResponse.json({ jobs: await listOwnedLooks(parts, callerOwnerHash(request)) });
}

async function deleteAll(request: Request) {
  refuseCrossSite(request);
  await deleteAllOwnedLooks(getParts(), callerOwnerHash(request));
  return new NextResponse(null, { status: 204 });
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ GET: list, DELETE: deleteAll });
