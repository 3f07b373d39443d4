import type { CurrentStep } from "@/lib/jobs/job";

/**
 * When to look at a running vendor task, from what is expected of it (lib/jobs/step-timing.ts).
 * Pure: the advancer applies it. docs/architecture.md, "When a task is checked".
 *
 * - The first check aims at the expected end, a little late: a check that comes early finds the
 *   task running and costs a vendor call plus a wait, while one slightly late costs only the margin.
 * - After a miss, checks follow at short intervals that grow (×1.3), from 5 % of the expectation
 *   (at least MIN_CHECK_INTERVAL_MS), never sparser than the provider's own hint.
 * - On a cold start (nothing learned yet) the provider's hint decides, as before learning existed.
 */

/** Never check a running task more often than this, whatever the provider hints. */
export const MIN_CHECK_INTERVAL_MS = 250;
/** The first check comes this share of the expectation after the expected end (err late)... */
const AIM_LATE_SHARE = 0.03;
/** ...and at least this late. */
const AIM_LATE_MIN_MS = 100;
/** The first interval after a miss, as a share of the expectation. */
const RETRY_SHARE = 0.05;
/** Each further miss waits this much longer than the one before. */
const RETRY_GROWTH = 1.3;
/**
 * A task found done at its first check ended some time before it: its duration is taken as this
 * share of what was seen, so the learned time can come down (only late-found ends would only push
 * it up). A check aimed at the expected end came near it (75 %); a cold start's check at the
 * provider's hint knows only that it ended since the create (the middle, 50 %). A task seen running
 * before it was found done ended between the two checks: the middle.
 */
export const FOUND_DONE_AT_FIRST_SHARE = 0.75;
export const FOUND_DONE_COLD_SHARE = 0.5;

/** How long after the create was sent the first check is aimed, for an expectation. */
export function aimMs(expectedMs: number): number {
  return Math.round(expectedMs + Math.max(AIM_LATE_MIN_MS, expectedMs * AIM_LATE_SHARE));
}

/** The first check of a task whose create was sent at `sentAt`. `hintMs`: the provider's, if any. */
export function firstCheckAt(
  current: Pick<CurrentStep, "expectedMs" | "learned">,
  sentAt: number,
  now: number,
  hintMs: number,
): number {
  const fallback = now + Math.max(MIN_CHECK_INTERVAL_MS, hintMs);
  if (!current.learned || current.expectedMs === null) return fallback;
  return Math.max(now + MIN_CHECK_INTERVAL_MS, sentAt + aimMs(current.expectedMs));
}

/**
 * The next check of a task a check just found running (`runningChecks` counts it). A check that
 * came before the aim (a callback's nudge) leaves the aim in place.
 */
export function checkAfterRunning(
  current: Pick<CurrentStep, "expectedMs" | "learned" | "sentAt" | "runningChecks">,
  now: number,
  hintMs: number,
): number {
  const cap = Math.max(MIN_CHECK_INTERVAL_MS, hintMs);
  if (!current.learned || current.expectedMs === null || current.sentAt === null) return now + cap;
  const aimAt = current.sentAt + aimMs(current.expectedMs);
  if (now < aimAt - MIN_CHECK_INTERVAL_MS) return aimAt;
  const misses = Math.max(1, current.runningChecks);
  const base = Math.max(MIN_CHECK_INTERVAL_MS, current.expectedMs * RETRY_SHARE);
  return now + Math.round(Math.min(cap, base * RETRY_GROWTH ** (misses - 1)));
}

/**
 * The duration a finished task adds to its series: from its create sent to the check that found it
 * done, corrected for how late that check may have been (see FOUND_DONE_AT_FIRST_SHARE). Null when
 * the create's time is unknown (a record from before learning).
 */
export function sampleOf(
  current: Pick<CurrentStep, "sentAt" | "lastRunningAt" | "learned">,
  foundDoneAt: number,
): number | null {
  if (current.sentAt === null) return null;
  const done = foundDoneAt - current.sentAt;
  if (current.lastRunningAt === null || current.lastRunningAt < current.sentAt)
    return done * (current.learned ? FOUND_DONE_AT_FIRST_SHARE : FOUND_DONE_COLD_SHARE);
  return (current.lastRunningAt - current.sentAt + done) / 2;
}
