import { StoreUnavailableError } from "@/lib/failures";
import type { AdvanceDeps, AdvanceOptions } from "@/lib/jobs/advance";
import { checkAfterRunning, sampleOf } from "@/lib/jobs/check-schedule";
import { MAX_BLIND_REPEATS_PER_STEP, unknownTwiceMessage } from "@/lib/jobs/create-budget";
import { errorCodeOf } from "@/lib/jobs/error-code";
import { type Artifacts, isPaused, isTerminal, type StoredJob } from "@/lib/jobs/job";
import type { Lease } from "@/lib/jobs/lease";
import { isOverdue, PIPELINE, type Step, type StepScope } from "@/lib/jobs/pipeline";
import { stepTimesOf } from "@/lib/jobs/step-timing";
import { discardTask, forgetTask } from "@/lib/jobs/stop-job";
import { adoptKnownTask, submitStep } from "@/lib/jobs/submit-step";
import {
  completeStep,
  countUnknownOutcome,
  type FailurePhase,
  failJob,
  noteRunning,
  resumeStep,
  retryDelayMs,
  retryLater,
  scheduleCheck,
} from "@/lib/jobs/transitions";
import { logEvent } from "@/lib/log";
import { ProviderError } from "@/lib/providers/types";
import { COMMIT_ALLOWANCE_MS, DEFAULT_CALL_TIMEOUT_MS, DEFAULT_CREATE_TIMEOUT_MS } from "@/lib/time-budget";

/** A check that finds no such task is repeated once; the second consecutive one starts a new attempt. */
const MISSING_CHECKS_BEFORE_NEW_ATTEMPT = 2;

/** Another writer changed the job under us: our write did nothing, the job is read afresh. */
export class LostRace extends Error {}
/** No room for the next vendor call (the lease, or the invocation, ends too soon): the next call goes on. */
export class Stopped extends Error {
  constructor(readonly reason: "lease_lost" | "lease_short" | "invocation_ending") {
    super(reason);
  }
}

/** One advance of one job under its lease: the loop over steps, checks, failures and the one writer. */
export class Advancer {
  readonly pipeline: readonly Step[];
  readonly createTimeoutMs: number;
  readonly callTimeoutMs: number;
  /** The job as last read or written: what a stopped advance answers with. */
  latest: StoredJob;

  constructor(
    readonly deps: AdvanceDeps,
    readonly now: () => number,
    readonly lease: Lease,
    readonly options: AdvanceOptions,
    leased: StoredJob,
  ) {
    this.pipeline = deps.pipeline ?? PIPELINE;
    this.createTimeoutMs = deps.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS;
    this.callTimeoutMs = deps.providerTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.latest = leased;
  }

  async run(leased: StoredJob): Promise<StoredJob> {
    let job = await adoptKnownTask(this, leased);
    // A finished step moves straight on to submitting the next one, within the same lease.
    for (let first = true; ; first = false) {
      if (isTerminal(job.status)) return job;
      const step = this.pipeline[job.stepIndex];
      if (!step || !job.current)
        return this.commit(failJob(job, "Something went wrong on our side. Please try again.", "internal"));
      if (isPaused(job)) {
        if (this.options.watcher !== "person") return job;
        logEvent("step.resumed", { jobId: job.id, step: step.name });
        job = resumeStep(job, this.now()); // written by the step's next commit
      }
      const taskId = job.current?.taskId ?? null;
      // A nudge speeds up checking a task, never a submit that is waiting out a backoff.
      const nudged = first && this.options.ignoreSchedule === true && taskId !== null;
      const overdue = isOverdue(job, step, this.now());
      if (job.nextCheckAt > this.now() && !nudged && !overdue) return job;
      if (taskId === null) return overdue ? this.timeOut(job, step) : submitStep(this, job, step);
      // Past the deadline a task is still checked once: a result that is ready is never thrown away.
      const before = job.stepIndex;
      job = await this.check(job, step, taskId);
      if (job.stepIndex === before) return job;
    }
  }

  private async check(job: StoredJob, step: Step, taskId: string): Promise<StoredJob> {
    await this.beforeVendorCall(this.callTimeoutMs);
    const scope = this.scope(job, this.callTimeoutMs);
    // What the vendor answers is its state about now: the moment the check was sent.
    const checkedAt = this.now();
    let result: Awaited<ReturnType<Step["check"]>>;
    try {
      result = await step.check(scope, taskId, { signal: scope.signal });
    } catch (error) {
      return this.fail(
        job,
        step,
        error,
        error instanceof ProviderError && error.taskMissing ? "missing" : "check",
      );
    }
    switch (result.state) {
      case "running": {
        if (isOverdue(job, step, this.now())) return this.timeOut(job, step);
        const seen = noteRunning(job, checkedAt);
        const hintMs = result.nextCheckInMs ?? step.checkIntervalMs;
        const at = seen.current ? checkAfterRunning(seen.current, this.now(), hintMs) : this.now() + hintMs;
        return this.commit(scheduleCheck(seen, at));
      }
      case "failed":
        return this.fail(job, step, result.error, result.error.taskMissing ? "missing" : "task");
      case "succeeded": {
        // The download and our own blob write come next: room for both, and the commit after.
        await this.beforeVendorCall(this.callTimeoutMs, 2);
        let added: Awaited<ReturnType<Step["save"]>>;
        try {
          added = await step.save(this.scope(job, this.callTimeoutMs), result.output);
        } catch (error) {
          return this.fail(job, step, error, "check");
        }
        const checks = (job.current?.runningChecks ?? 0) + 1;
        logEvent("step.completed", { jobId: job.id, step: step.name, taskId, checks });
        const completed = await this.commit(completeStep(job, added, this.pipeline, this.now())).catch(
          async (error: unknown) => {
            if (error instanceof LostRace) await this.dropUnrecorded(job, added);
            throw error;
          },
        );
        await this.learnDuration(job, step, checkedAt);
        await this.forgetTask(job, step, taskId);
        return completed;
      }
    }
  }

  /**
   * Once its output is saved, the vendor's copy of the task is deleted where it can be (OpenAI keeps
   * a stored response, with the photos, until deleted). Best effort: a failure is logged, never fatal.
   */
  private async forgetTask(job: StoredJob, step: Step, taskId: string): Promise<void> {
    const { stopBy } = this.options;
    if (stopBy !== undefined && stopBy - this.now() < this.callTimeoutMs) {
      logEvent("step.forget_skipped", {
        jobId: job.id,
        step: step.name,
        taskId,
        reason: "invocation_ending",
      });
      return;
    }
    await forgetTask(this.deps, job, step, taskId);
  }

  /**
   * Fences the next vendor call: it starts only with a freshly renewed lease and an invocation that
   * both outlast its timeout plus `commits` store writes.
   */
  async beforeVendorCall(timeoutMs: number, commits = 1): Promise<void> {
    const needed = timeoutMs + commits * COMMIT_ALLOWANCE_MS;
    const { stopBy } = this.options;
    if (stopBy !== undefined && stopBy - this.now() < needed) throw new Stopped("invocation_ending");
    if (!(await this.lease.renew())) throw new Stopped("lease_lost");
    if (this.lease.leftMs() < needed) throw new Stopped("lease_short");
  }

  scope(job: StoredJob, timeoutMs: number): StepScope {
    const { blobs, providers } = this.deps;
    return { job, blobs, providers, signal: AbortSignal.timeout(timeoutMs) };
  }

  private async timeOut(job: StoredJob, step: Step): Promise<StoredJob> {
    const taskId = job.current?.taskId ?? null;
    logEvent("step.timed_out", { jobId: job.id, step: step.name, taskId });
    const failed = await this.commit(
      failJob(job, `${step.label} took too long and was stopped. Please try again.`, "timed_out"),
    );
    if (taskId) await this.cancelQuietly(job, step, taskId, "timed_out");
    return failed;
  }

  /** Best effort: a task we will not use is cancelled and deleted at its vendor, where it can be. */
  async cancelQuietly(job: StoredJob, step: Step, taskId: string, reason: string): Promise<void> {
    const { stopBy } = this.options;
    if (stopBy !== undefined && stopBy - this.now() < this.callTimeoutMs) {
      logEvent("step.cancel_skipped", { jobId: job.id, step: step.name, taskId, reason });
      return;
    }
    await discardTask(this.deps, job, step, taskId, reason);
  }

  /**
   * The job was stopped or deleted while its output was being saved: the files just written would
   * belong to no record (an erase may have swept the folder already), so they go now.
   */
  private async dropUnrecorded(job: StoredJob, added: Partial<Artifacts>): Promise<void> {
    const now = await this.deps.store.get(job.id).catch(() => job);
    if (now && !isTerminal(now.status)) return;
    for (const name of ["style", "tryon", "final"] as const) {
      const ref = added[name];
      if (ref) {
        await this.deps.blobs.delete(ref).catch((error: unknown) => {
          logEvent("step.unrecorded_delete_failed", { jobId: job.id, key: ref.key, error });
        });
      }
    }
  }

  /** Adds the finished task's duration to its step's learned times (lib/jobs/step-timing.ts). */
  private async learnDuration(job: StoredJob, step: Step, foundDoneAt: number): Promise<void> {
    const sample = job.current ? sampleOf(job.current, foundDoneAt) : null;
    if (sample === null) return;
    const { series } = step.provider(this.deps.providers);
    await stepTimesOf(this.deps.store).record(series, sample);
  }

  /** A permanent failure ends the job; a transient one is retried with backoff up to the step's cap. */
  fail(job: StoredJob, step: Step, error: unknown, phase: FailurePhase): Promise<StoredJob> {
    // Our own store failing is not the provider's fault: let it reach the caller (503).
    if (error instanceof LostRace || error instanceof Stopped || error instanceof StoreUnavailableError)
      throw error;
    const failure = asProviderError(error, step);
    const current = job.current;
    const failures = (current?.failures ?? 0) + 1;
    logEvent("step.failed", {
      jobId: job.id,
      step: step.name,
      phase,
      kind: failure.kind,
      failures,
      detail: failure.detail ?? failure.message,
    });
    let retryPhase = phase;
    if (phase === "missing" && (current?.missingChecks ?? 0) + 1 >= MISSING_CHECKS_BEFORE_NEW_ATTEMPT) {
      logEvent("step.task_missing", { jobId: job.id, step: step.name, taskId: current?.taskId ?? null });
      retryPhase = "task";
    } else if (phase !== "missing" && failure.kind === "permanent") {
      return this.commit(failJob(job, failure.message, errorCodeOf(failure)));
    }
    // The step's second create with an unknown outcome, and no lookup to settle it: never a third.
    const blind = phase === "submit" && !step.provider(this.deps.providers).canFindTasks;
    if (blind && (current?.unknownOutcomes ?? 0) + 1 > MAX_BLIND_REPEATS_PER_STEP) {
      logEvent("step.unknown_twice", { jobId: job.id, step: step.name });
      return this.commit(
        failJob(countUnknownOutcome(job), unknownTwiceMessage(step), "provider_unavailable"),
      );
    }
    if (isOverdue(job, step, this.now())) return this.timeOut(job, step);
    if (failures >= step.retry.maxFailures) {
      return this.commit(
        failJob(
          job,
          `${failure.message} We tried ${failures} times; please try again later.`,
          "provider_unavailable",
        ),
      );
    }
    const at = this.now() + retryDelayMs(step.retry, failures, failure.retryAfterMs);
    return this.commit(retryLater(job, retryPhase, { failures, lastError: failure.message, at }));
  }

  /**
   * The one writer. Every write by a person's poll records the watch (the idle poll writes nothing),
   * and no unfinished step is scheduled past its deadline, so the sweep finds it when it is overdue.
   */
  async commit(next: StoredJob): Promise<StoredJob> {
    const now = this.now();
    const record: StoredJob = { ...next, updatedAt: now };
    if (this.options.watcher === "person") record.watchedAt = now;
    const step = this.pipeline[record.stepIndex];
    if (step && record.current && !isTerminal(record.status) && !isPaused(record)) {
      record.nextCheckAt = Math.min(record.nextCheckAt, record.current.startedAt + step.deadlineMs + 1);
    }
    const written = await this.deps.store.compareAndSet(record, next.version);
    if (!written) throw new LostRace();
    this.latest = written;
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
