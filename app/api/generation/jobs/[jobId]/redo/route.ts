// POST /api/generation/jobs/{jobId}/redo: a new look from the owner's look, redone from one step.
import { after, NextResponse } from "next/server";
import { route } from "@/lib/http";
import { readRedo } from "@/lib/intake/redo-body";
import { advance } from "@/lib/jobs/advance";
import { parseJobId } from "@/lib/jobs/job-id";
import { redoLook } from "@/lib/jobs/redo-job";
import { logEvent } from "@/lib/log";
import { refuseCrossSite } from "@/lib/owners/same-origin";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const maxDuration = 60;

type Context = { params: Promise<{ jobId: string }> };

async function redo(request: Request, { params }: Context) {
  refuseCrossSite(request);
  const sourceId = parseJobId((await params).jobId);
  const parts = getParts();
  const { ask, client } = await readRedo(parts, request);
  const { jobId, replayed } = await redoLook(parts, sourceId, ask, client);
  // Its first step starts after the answer, as a start's does; a lost one is picked up by a poll.
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
        ...(replayed ? { "Idempotent-Replayed": "true" } : {}),
      },
    },
  );
}

export const { GET, POST, PUT, PATCH, DELETE } = route<Context>({ POST: redo });
