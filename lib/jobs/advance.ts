import { randomUUID } from "node:crypto";
import type { BlobStore } from "@/lib/blobs/types";
import { Advancer, LostRace, Stopped } from "@/lib/jobs/advancer";
import { isPaused, isTerminal, type StoredJob } from "@/lib/jobs/job";
import type { JobStore } from "@/lib/jobs/job-store";
import { Lease, releaseRemembered } from "@/lib/jobs/lease";
import { isOverdue, PIPELINE, type Step } from "@/lib/jobs/pipeline";
import type { Carriers, Watcher } from "@/lib/jobs/unattended";
import { logEvent } from "@/lib/log";
import type { Providers } from "@/lib/providers/types";
import { DEFAULT_CREATE_TIMEOUT_MS, leaseNeededFor } from "@/lib/time-budget";

export interface AdvanceDeps {
  store: JobStore;
  blobs: BlobStore;
  providers: Providers;
  /** The clock (ms epoch); tests pass a fake one. */
  now?: () => number;
  pipeline?: readonly Step[];
  /** How long the lease lives, renewed to this before each vendor call (LEASE_MS). */
  leaseMs?: number;
  /** The signal of each paid create (VENDOR_CREATE_TIMEOUT_MS). */
  createTimeoutMs?: number;
  /** The signal of each check, lookup, cancel and result download (VENDOR_CALL_TIMEOUT_MS). */
  providerTimeoutMs?: number;
  /** What carries a job nobody watches to its end (lib/jobs/unattended.ts); nothing when absent. */
  carriers?: Carriers;
  /** Waits between retries of a write; tests pass one that moves their fake clock. */
  sleep?: (ms: number) => Promise<void>;
}

export interface AdvanceOptions {
  /** Check now even if the next check is not due: a verified provider callback says the task changed. */
  ignoreSchedule?: boolean;
  /**
   * A verified callback names the task of a create (OpenAI's webhook carries our idempotency key):
   * adopted when the job's current step waits on that key, cancelled when it is a known duplicate.
   */
  foundTask?: { idempotencyKey: string; taskId: string };
  /** Who asks. A person's poll records the watch and resumes a paused job; others never do. */
  watcher?: Watcher;
  /** No vendor call starts unless it and its commit end before this (ms epoch): the route's maxDuration. */
  stopBy?: number;
}

/**
 * Moves a job forward if its current provider task is due: safe to call any number of times,
 * concurrently, from several processes (docs/architecture.md, "Advancing a job"). Returns the job as it now is,
 * or null when it does not exist. When nothing is due it costs one store read.
 */
export async function advance(
  jobId: string,
  deps: AdvanceDeps,
  options: AdvanceOptions = {},
): Promise<StoredJob | null> {
  const now = deps.now ?? Date.now;
  const job = await deps.store.get(jobId);
  if (!job || !isDue(job, options, now(), deps.pipeline ?? PIPELINE)) return job;

  await releaseRemembered(deps.store);
  const token = randomUUID();
  const leaseMs = deps.leaseMs ?? leaseNeededFor(deps.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS);
  const takenAt = now();
  const leased = await deps.store.acquireLease(jobId, token, leaseMs);
  if (!leased) return job;
  const lease = new Lease(deps.store, jobId, token, leaseMs, now, takenAt);
  const advancer = new Advancer(deps, now, lease, options, leased);
  try {
    return await advancer.run(leased);
  } catch (error) {
    if (error instanceof LostRace) return deps.store.get(jobId);
    if (!(error instanceof Stopped)) throw error;
    logEvent("advance.stopped", { jobId, reason: error.reason });
    return error.reason === "lease_lost" ? deps.store.get(jobId) : advancer.latest;
  } finally {
    await lease.release();
  }
}

/** Decided from the one read, in memory: is there anything for this caller to do? */
function isDue(job: StoredJob, options: AdvanceOptions, now: number, pipeline: readonly Step[]): boolean {
  if (isTerminal(job.status)) return false;
  if (isPaused(job)) return options.watcher === "person" || options.foundTask !== undefined;
  if (options.ignoreSchedule || options.foundTask || job.nextCheckAt <= now) return true;
  // A job past its deadline is failed now, whatever its nextCheckAt says.
  const step = pipeline[job.stepIndex];
  return step !== undefined && isOverdue(job, step, now);
}
