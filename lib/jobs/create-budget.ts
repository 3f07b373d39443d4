import type { StoredJob } from "@/lib/jobs/job";
import type { Step } from "@/lib/jobs/pipeline";

/**
 * The hard spend bound: how many paid creates a step and a look may ever start. Both counters are
 * written by the compare-and-set that records the submit intent, before the vendor is called, so no
 * crash, lost answer or race can create past them.
 */

/**
 * Creates one step may start. At least every step's `retry.maxFailures` (4 and 5), so a step retried
 * for ordinary failures is never cut short; what it adds is a bound on creates that no failure
 * counted (a process that died after the vendor accepted).
 */
export const MAX_CREATES_PER_STEP = 5;
/** Creates one look may start over all its steps: 4 when nothing goes wrong, 6 spare. */
export const MAX_CREATES_PER_JOB = 10;
/**
 * A create whose outcome stayed unknown (no lookup could tell) is repeated this often per step;
 * the next unknown outcome in the step fails it rather than risk paying a third time.
 */
export const MAX_BLIND_REPEATS_PER_STEP = 1;

/** The person's sentence when a cap refuses a create, or null when the create may go ahead. */
export function createRefusal(job: StoredJob, step: Step): string | null {
  if ((job.current?.creates ?? 0) >= MAX_CREATES_PER_STEP) {
    return `${step.label} was stopped after too many tries. Please try again later.`;
  }
  if (job.creates >= MAX_CREATES_PER_JOB) {
    return "This look needed too many tries, so we stopped it. Please try again later.";
  }
  return null;
}

/** The sentence when a second create of a step ends with an unknown outcome. */
export function unknownTwiceMessage(step: Step): string {
  return `${step.label} was stopped: twice we could not tell whether the service had started it. Please try again later.`;
}

/**
 * The most creates one look can start at each vendor, and in all. A vendor's steps may use up to
 * MAX_CREATES_PER_STEP each, within what the look's cap leaves after the other vendors' steps that
 * run before them (each of those needs at least one create to finish). docs/reliability.md and the
 * README state these numbers; tests/unit/create-budget.test.ts proves them against adversaries.
 */
export function worstCaseCreates(pipeline: readonly Step[]): {
  perVendor: Record<string, number>;
  perLook: number;
} {
  const perVendor: Record<string, number> = {};
  for (const vendor of new Set(pipeline.map((step) => step.vendor))) {
    const own = pipeline.filter((step) => step.vendor === vendor).length;
    const lastOwn = pipeline.findLastIndex((step) => step.vendor === vendor);
    const othersBefore = pipeline.slice(0, lastOwn).filter((step) => step.vendor !== vendor).length;
    perVendor[vendor] = Math.min(own * MAX_CREATES_PER_STEP, MAX_CREATES_PER_JOB - othersBefore);
  }
  return { perVendor, perLook: Math.min(pipeline.length * MAX_CREATES_PER_STEP, MAX_CREATES_PER_JOB) };
}
