// GET /api/generation/events?jobId=…: the job's public view as Server-Sent Events, advancing it while open.
import { route } from "@/lib/http";
import { parseJobId } from "@/lib/jobs/job-id";
import { callerOwnerHash } from "@/lib/owners/owner-cookie";
import { openJobStream } from "@/lib/streams/open-job-stream";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
// POLL_ROUTE_MAX_DURATION_S (lib/time-budget.ts): the stream closes itself before it, with a retry hint.
export const maxDuration = 120;

async function events(request: Request) {
  const startedAt = Date.now();
  const jobId = parseJobId(new URL(request.url).searchParams.get("jobId"));
  return openJobStream({
    jobId,
    deps: getParts(),
    ownerHash: callerOwnerHash(request),
    lastEventId: request.headers.get("last-event-id"),
    maxDurationS: maxDuration,
    startedAt,
    signal: request.signal,
  });
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ GET: events });
