// GET /api/generation/status?jobId=…: a job's public view; each poll also moves the job on.
import { after, NextResponse } from "next/server";
import { AppError } from "@/lib/errors";
import { route } from "@/lib/http";
import { advance } from "@/lib/jobs/advance";
import { parseJobId } from "@/lib/jobs/job-id";
import { publicJobOf } from "@/lib/jobs/public-view";
import { sweepExpiredJobsIfDue } from "@/lib/jobs/retention";
import { logEvent } from "@/lib/log";
import { callerOwnerHash } from "@/lib/owners/owner-cookie";
import { invocationStopBy } from "@/lib/time-budget";
import { getParts } from "@/lib/wiring/parts";
import { withinBudget } from "@/lib/within-budget";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
// POLL_ROUTE_MAX_DURATION_S (lib/time-budget.ts): a check, a copied result and the next submit fit.
export const maxDuration = 120;

/** A slow provider never holds a poll longer than this; the advance goes on after the answer. */
const POLL_BUDGET_MS = 8_000;

async function status(request: Request) {
  const jobId = parseJobId(new URL(request.url).searchParams.get("jobId"));
  const parts = getParts();
  // The after() below is cut at maxDuration: no vendor call starts that could not end before it.
  const work = advance(jobId, parts, { watcher: "person", stopBy: invocationStopBy(maxDuration) });
  after(() => work.catch((error: unknown) => logEvent("advance.failed", { jobId, error })));
  // No cron needed: a poll now and then also deletes what expired jobs left behind.
  after(() => sweepExpiredJobsIfDue(parts, { everyMs: parts.config.retentionSweepSeconds * 1000 }));
  const job = await withinBudget(work, POLL_BUDGET_MS, () => parts.store.get(jobId));
  if (!job) throw new AppError("job_not_found", "This job does not exist or has expired.");
  return NextResponse.json(await publicJobOf(job, parts.blobs, callerOwnerHash(request)));
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ GET: status });
