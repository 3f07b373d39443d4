import type { PublicJob } from "@/lib/public-job";

/**
 * The progress bar's arithmetic, between the server's views of a job: where the bar stands, how it
 * moves until the next view, and what to say about the time left. Pure; all times are this
 * browser's clock (ms epoch), the server's estimate shifted by the clock offset.
 */
export interface ProgressAnchor {
  /** The view this anchor was made from (a new object means a new view). */
  job: PublicJob | null;
  /** When the bar started moving from `from`. */
  at: number;
  /** Where the bar starts: the server's progress, or what was already shown if that is further. */
  from: number;
  /** When the look should be ready, or null without an estimate. */
  readyAt: number | null;
  /** The step this view is on, and the estimate first given during it (to tell a step that runs long). */
  step: number;
  stepReadyAt: number | null;
}

/** Share of the way to the estimate the bar may go before the look is really done. */
const ESTIMATE_CAP = 0.9;
/** Without an estimate: the share of the running step the bar creeps through, and how fast. */
const CREEP_SHARE = 0.85;
const CREEP_TIME_CONSTANT_MS = 12_000;
/** An estimate missed by less than this is not yet "running long". */
const LATE_GRACE_MS = 2_000;
/** Below this the estimate says "almost there" rather than a number of seconds. */
const ALMOST_MS = 5_000;

export function readyAtOf(job: PublicJob | null, clockOffsetMs: number): number | null {
  const at = job?.estimatedReadyAt ? Date.parse(job.estimatedReadyAt) : Number.NaN;
  return Number.isNaN(at) ? null : at - clockOffsetMs;
}

/** Where the bar stands at `now` for an anchor (0–1): never past the estimate's cap or the step's end. */
export function barFraction(anchor: ProgressAnchor, now: number): number {
  const { job, from, at, readyAt } = anchor;
  if (!job) return 0;
  if (job.status === "completed") return 1;
  const elapsed = Math.max(0, now - at);
  if (readyAt !== null && readyAt > at) {
    const share = Math.min(ESTIMATE_CAP, elapsed / (readyAt - at));
    return Math.min(1, from + (1 - from) * share);
  }
  // No estimate: creep towards the end of the running step, never reaching it.
  const stepEnd = Math.min(1, job.step / Math.max(1, job.totalSteps));
  const span = Math.max(0, stepEnd - from);
  return from + span * CREEP_SHARE * (1 - Math.exp(-elapsed / CREEP_TIME_CONSTANT_MS));
}

/**
 * The anchor for a new view: the bar goes on from where it stands (never backwards), and starts a
 * new movement only when the view says something new (its progress or estimate changed).
 */
export function nextAnchor(
  previous: ProgressAnchor | null,
  job: PublicJob | null,
  clockOffsetMs: number,
  now: number,
): ProgressAnchor {
  const readyAt = readyAtOf(job, clockOffsetMs);
  const step = job?.step ?? 0;
  if (
    previous?.job &&
    job &&
    previous.job.progress === job.progress &&
    previous.job.estimatedReadyAt === job.estimatedReadyAt
  ) {
    return { ...previous, job };
  }
  const shown = previous ? barFraction(previous, now) : 0;
  const sameStep = previous !== null && previous.step === step;
  return {
    job,
    at: now,
    from: Math.max(job?.progress ?? 0, shown),
    readyAt,
    step,
    stepReadyAt: sameStep && previous.stepReadyAt !== null ? previous.stepReadyAt : readyAt,
  };
}

/** "a few seconds", "40 seconds", "a minute", "3 minutes": rounded, as a person says it. */
export function formatRemaining(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 10) return "a few seconds";
  if (seconds < 60) return `${Math.round(seconds / 5) * 5} seconds`;
  if (seconds < 90) return "a minute";
  return `${Math.round(seconds / 60)} minutes`;
}

/**
 * What the view says about the time left, or null when the server has no basis for an estimate.
 * When the step runs past the estimate first given during it, it says so.
 */
export function estimateText(anchor: ProgressAnchor, now: number): string | null {
  if (anchor.readyAt === null || !anchor.job) return null;
  const remaining = anchor.readyAt - now;
  const late = anchor.stepReadyAt !== null && now > anchor.stepReadyAt + LATE_GRACE_MS;
  if (late) {
    return remaining > ALMOST_MS
      ? `This step is taking longer than usual: about ${formatRemaining(remaining)} left.`
      : "This step is taking longer than usual. Still working on it…";
  }
  if (remaining <= ALMOST_MS) return "Almost there…";
  return `About ${formatRemaining(remaining)} left`;
}
