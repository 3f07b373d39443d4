// POST /api/generation/start: starts a look from a multipart form or from direct uploads (JSON).
import { after, NextResponse } from "next/server";
import { route } from "@/lib/http";
import { discardUploadsAfter, readStart } from "@/lib/intake/read-start";
import { advance } from "@/lib/jobs/advance";
import { sweepExpiredJobsIfDue } from "@/lib/jobs/retention";
import { startJob } from "@/lib/jobs/start-job";
import { logEvent } from "@/lib/log";
import { refuseCrossSite } from "@/lib/owners/same-origin";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const maxDuration = 60;

async function start(request: Request) {
  const parts = getParts();
  refuseCrossSite(request);
  const { start, client, uploads, owner } = await readStart(parts, request);
  const { jobId, replayed } = await startJob(parts, start, client);
  after(() => sweepExpiredJobsIfDue(parts, { everyMs: parts.config.retentionSweepSeconds * 1000 }));
  // The first step starts after the answer; if this dies, the first poll picks the work up.
  if (!replayed) {
    discardUploadsAfter(parts, jobId, uploads);
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
        "Set-Cookie": owner.setCookie,
        // Stripe's header: this answer repeats the one the key's first request got.
        ...(replayed ? { "Idempotent-Replayed": "true" } : {}),
      },
    },
  );
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ POST: start });
