import { randomUUID } from "node:crypto";
import type { BlobStore } from "@/lib/blobs/types";
import { isTerminal, type StoredJob } from "@/lib/jobs/job";
import { PIPELINE, type Step, type StepRuntime } from "@/lib/jobs/pipeline";
import {
  backoffMs,
  completeStep,
  type FailurePhase,
  failJob,
  markSubmitting,
  recordTask,
  retryLater,
  scheduleCheck,
} from "@/lib/jobs/transitions";
import { logEvent } from "@/lib/log";
import { ProviderError, type Providers } from "@/lib/providers/types";
import { type JobStore, StoreUnavailableError } from "@/lib/store/types";

export interface AdvanceDeps {
  store: JobStore;
  blobs: BlobStore;
  providers: Providers;
  /** The clock (ms epoch); tests pass a fake one. */
  now?: () => number;
  pipeline?: readonly Step[];
  /** How long the lease lives: longer than any provider call under it. */
  leaseMs?: number;
  /** Each provider call (submit, check, download) is aborted after this. */
  providerTimeoutMs?: number;
}

const DEFAULT_LEASE_MS = 60_000;
const DEFAULT_PROVIDER_TIMEOUT_MS = 20_000;
/** Never check a running task more often than this, whatever the provider hints. */
const MIN_CHECK_INTERVAL_MS = 250;

/** Another writer changed the job under us: our write did nothing, the job is read afresh. */
class LostRace extends Error {}

export interface AdvanceOptions {
  /** Check now even if the next check is not due: a verified provider callback says the task changed. */
  ignoreSchedule?: boolean;
}

/**
 * Moves a job forward if its current provider task is due: safe to call any number of times,
 * concurrently, from several processes (DESIGN.md, "Advancing a job"). Returns the job as it now is,
 * or null when it does not exist.
 */
export async function advance(
  jobId: string,
  deps: AdvanceDeps,
  options: AdvanceOptions = {},
): Promise<StoredJob | null> {
  const now = deps.now ?? Date.now;
  const job = await deps.store.get(jobId);
  if (!job || isTerminal(job.status) || (!options.ignoreSchedule && job.nextCheckAt > now())) return job;

  const token = randomUUID();
  const leased = await deps.store.acquireLease(jobId, token, deps.leaseMs ?? DEFAULT_LEASE_MS);
  if (!leased) return job;
  try {
    return await new Advancer(deps, now).run(leased, options.ignoreSchedule ?? false);
  } catch (error) {
    if (error instanceof LostRace) return deps.store.get(jobId);
    throw error;
  } finally {
    await deps.store.releaseLease(jobId, token).catch((error: unknown) => {
      logEvent("lease.release_failed", { jobId, error: String(error) });
    });
  }
}

class Advancer {
  private readonly pipeline: readonly Step[];

  constructor(
    private readonly deps: AdvanceDeps,
    private readonly now: () => number,
  ) {
    this.pipeline = deps.pipeline ?? PIPELINE;
  }

  async run(leased: StoredJob, ignoreSchedule: boolean): Promise<StoredJob> {
    let job = leased;
    // A finished step moves straight on to submitting the next one, within the same lease.
    for (let first = true; ; first = false) {
      if (isTerminal(job.status)) return job;
      // A nudge speeds up checking a task, never a submit that is waiting out a backoff.
      const nudged = first && ignoreSchedule && job.current?.taskId != null;
      if (job.nextCheckAt > this.now() && !nudged) return job;
      const step = this.pipeline[job.stepIndex];
      const current = job.current;
      if (!step || !current)
        return this.commit(failJob(job, "Something went wrong on our side. Please try again."));
      if (current.taskId === null) {
        return this.isOverdue(job, step) ? this.timeOut(job, step) : this.submit(job, step);
      }
      // Past the deadline a task is still checked once: a result that is ready is never thrown away.
      const before = job.stepIndex;
      job = await this.check(job, step, current.taskId);
      if (job.stepIndex === before) return job;
    }
  }

  private runtime(job: StoredJob): StepRuntime {
    const signal = AbortSignal.timeout(this.deps.providerTimeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS);
    return { job, blobs: this.deps.blobs, providers: this.deps.providers, signal };
  }

  private async submit(job: StoredJob, step: Step): Promise<StoredJob> {
    const attempt = job.current?.attempt ?? 1;
    const idempotencyKey = `${job.id}-${step.name}-${attempt}`;
    if (job.current?.submittingAt != null) {
      // The last submit's answer was lost (crash or error): adopt its task if the provider has it.
      const rt = this.runtime(job);
      try {
        const since = job.current.submittingAt;
        const found = await step.findTask(rt, idempotencyKey, { signal: rt.signal, since });
        if (found) {
          logEvent("step.task_recovered", { jobId: job.id, step: step.name, taskId: found.taskId });
          return this.commit(recordTask(job, found.taskId, this.now() + step.checkIntervalMs));
        }
      } catch (error) {
        return this.fail(job, step, error, "submit");
      }
    }
    const intent = await this.commit(markSubmitting(job, this.now()));
    const rt = this.runtime(intent);
    try {
      const { taskId, nextCheckInMs } = await step.submit(rt, { idempotencyKey, signal: rt.signal });
      logEvent("step.submitted", { jobId: job.id, step: step.name, attempt, taskId });
      return this.commit(recordTask(intent, taskId, this.nextCheckAt(step, nextCheckInMs)));
    } catch (error) {
      return this.fail(intent, step, error, "submit");
    }
  }

  private async check(job: StoredJob, step: Step, taskId: string): Promise<StoredJob> {
    const rt = this.runtime(job);
    try {
      const result = await step.check(rt, taskId, { signal: rt.signal });
      switch (result.state) {
        case "running":
          if (this.isOverdue(job, step)) return this.timeOut(job, step);
          return this.commit(scheduleCheck(job, this.nextCheckAt(step, result.nextCheckInMs)));
        case "failed":
          return this.fail(job, step, result.error, "task");
        case "succeeded": {
          const added = await step.save(rt, result.output);
          logEvent("step.completed", { jobId: job.id, step: step.name, taskId });
          return this.commit(completeStep(job, added, this.pipeline, this.now()));
        }
      }
    } catch (error) {
      return this.fail(job, step, error, "check");
    }
  }

  /** Every step has a deadline, counted from its start, so no job stays in progress forever. */
  private isOverdue(job: StoredJob, step: Step): boolean {
    return this.now() - (job.current?.startedAt ?? 0) > step.deadlineMs;
  }

  private timeOut(job: StoredJob, step: Step): Promise<StoredJob> {
    logEvent("step.timed_out", { jobId: job.id, step: step.name, taskId: job.current?.taskId ?? null });
    return this.commit(failJob(job, `${step.label} took too long and was stopped. Please try again.`));
  }

  private nextCheckAt(step: Step, hintMs: number | undefined): number {
    return this.now() + Math.max(MIN_CHECK_INTERVAL_MS, hintMs ?? step.checkIntervalMs);
  }

  /** A permanent failure ends the job; a transient one is retried with backoff up to the step's cap. */
  private fail(job: StoredJob, step: Step, error: unknown, phase: FailurePhase): Promise<StoredJob> {
    // Our own store failing is not the provider's fault: let it reach the caller (503).
    if (error instanceof LostRace || error instanceof StoreUnavailableError) throw error;
    const failure = asProviderError(error, step);
    const failures = (job.current?.failures ?? 0) + 1;
    logEvent("step.failed", {
      jobId: job.id,
      step: step.name,
      phase,
      kind: failure.kind,
      failures,
      detail: failure.detail ?? failure.message,
    });
    if (failure.kind === "permanent") return this.commit(failJob(job, failure.message));
    if (this.isOverdue(job, step)) return this.timeOut(job, step);
    if (failures >= step.retry.maxFailures) {
      return this.commit(
        failJob(job, `${failure.message} We tried ${failures} times; please try again later.`),
      );
    }
    const delay = Math.max(backoffMs(step.retry, failures), failure.retryAfterMs ?? 0);
    return this.commit(
      retryLater(job, phase, { failures, lastError: failure.message, at: this.now() + delay }),
    );
  }

  private async commit(next: StoredJob): Promise<StoredJob> {
    const written = await this.deps.store.compareAndSet({ ...next, updatedAt: this.now() }, next.version);
    if (!written) throw new LostRace();
    return written;
  }
}

/** Anything a provider throws that is not a ProviderError (a network error, our own bug) is transient. */
function asProviderError(error: unknown, step: Step): ProviderError {
  if (error instanceof ProviderError) return error;
  const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
  return new ProviderError("transient", `${step.label} ran into a problem.`, {
    detail: timedOut ? "provider call timed out" : String(error),
    cause: error,
  });
}
