/**
 * How long the engine's calls may take, and how long the work under one lease or one invocation may
 * run. One place for each number; lib/config.ts validates the settings against them.
 */

/** A paid create may answer slowly (OpenAI and Replicate accept, then answer late): its own, longer signal. */
export const DEFAULT_CREATE_TIMEOUT_MS = 45_000;
/** Checks, lookups, cancels and result downloads. */
export const DEFAULT_CALL_TIMEOUT_MS = 20_000;

/**
 * Room kept for one store commit beside a vendor call: the Redis and Upstash stores answer or fail
 * within 3 s, plus 2 s for a loaded event loop.
 */
export const COMMIT_ALLOWANCE_MS = 5_000;

/**
 * The renewal's own round trip: the lease is measured from before it, so a freshly renewed lease
 * has this much less left than its term.
 */
export const RENEWAL_ALLOWANCE_MS = 1_000;

/**
 * The lease a create needs: its renewal, the intent's commit before the call, the call itself, and
 * the commit that records its task after it. The default LEASE_MS is exactly this (56 s with the
 * default timeouts).
 */
export function leaseNeededFor(createTimeoutMs: number): number {
  return RENEWAL_ALLOWANCE_MS + COMMIT_ALLOWANCE_MS + createTimeoutMs + COMMIT_ALLOWANCE_MS;
}

/**
 * `maxDuration` (seconds) of the routes that advance jobs, as each route exports it: the one place,
 * since Next reads only a literal there (tests/unit/time-budget.test.ts keeps each equal to these)
 * and Vercel takes it from Next's build output, so vercel.json does not repeat it.
 * The status poll and the sweep may check, copy a result and submit the next step in one invocation.
 */
export const POLL_ROUTE_MAX_DURATION_S = 120;
/** The start and callback routes: one submit or one nudge each. The shortest limit any lease must fit in. */
export const SHORT_ROUTE_MAX_DURATION_S = 60;

/** Never plan work into the last seconds of an invocation: the platform cuts it at maxDuration. */
const INVOCATION_MARGIN_MS = 3_000;

/** The longest LEASE_MS allowed: every route's maxDuration stays above the lease. */
export const MAX_LEASE_MS = SHORT_ROUTE_MAX_DURATION_S * 1000 - INVOCATION_MARGIN_MS;

/** The moment (ms epoch) after which an invocation that began at `startedAt` starts no vendor call. */
export function invocationStopBy(maxDurationS: number, startedAt = Date.now()): number {
  return startedAt + maxDurationS * 1000 - INVOCATION_MARGIN_MS;
}
