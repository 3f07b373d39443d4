// GET /api/cron/advance: Vercel Cron's sweep, advancing the jobs nobody polls and deleting the files of expired ones.
import { timingSafeEqual } from "node:crypto";
import { NextResponse } from "next/server";
import { AppError } from "@/lib/errors";
import { route } from "@/lib/http";
import { sweepExpiredJobs } from "@/lib/jobs/retention";
import { sweepDueJobs } from "@/lib/jobs/sweep";
import { invocationStopBy } from "@/lib/time-budget";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";
// POLL_ROUTE_MAX_DURATION_S (lib/time-budget.ts).
export const maxDuration = 120;

/** Jobs per run and wall time to start them in: advances already begun end before maxDuration. */
const SWEEP_LIMIT = 50;
const SWEEP_BUDGET_MS = 40_000;
/** Expired jobs whose files one run deletes; the rest wait for the next run (or the app's own sweep). */
const RETENTION_LIMIT = 100;

function isAuthorized(header: string | null, secret: string | null): boolean {
  if (!secret || !header) return false;
  const expected = Buffer.from(`Bearer ${secret}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Vercel Cron calls this with `Authorization: Bearer $CRON_SECRET`; it advances overdue jobs and
 * deletes what expired jobs left (lib/jobs/retention.ts).
 */
async function sweep(request: Request) {
  const parts = getParts();
  if (!isAuthorized(request.headers.get("authorization"), parts.config.cronSecret)) {
    throw new AppError("unauthorized", "This address is for the scheduled sweep only.");
  }
  const stopBy = invocationStopBy(maxDuration);
  const due = await sweepDueJobs(parts, { limit: SWEEP_LIMIT, budgetMs: SWEEP_BUDGET_MS, stopBy });
  const retention = await sweepExpiredJobs(parts, { limit: RETENTION_LIMIT });
  return NextResponse.json({ ...due, retention });
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ GET: sweep });
