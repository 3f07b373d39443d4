import { StoreUnavailableError } from "@/lib/failures";
import { type Advancer, LostRace } from "@/lib/jobs/advancer";
import { createRefusal, MAX_BLIND_REPEATS_PER_STEP, unknownTwiceMessage } from "@/lib/jobs/create-budget";
import { createOutcomeOf } from "@/lib/jobs/create-outcome";
import { isTerminal, type StoredJob } from "@/lib/jobs/job";
import { memoryOf, remember } from "@/lib/jobs/lease";
import { idempotencyKeyOf, type Step } from "@/lib/jobs/pipeline";
import {
  countUnknownOutcome,
  failJob,
  forgetSubmit,
  markSubmitting,
  pauseStep,
  recordTask,
} from "@/lib/jobs/transitions";
import { mustPause, NO_CARRIERS } from "@/lib/jobs/unattended";
import { logEvent } from "@/lib/log";
import { ProviderError } from "@/lib/providers/types";
import { COMMIT_ALLOWANCE_MS } from "@/lib/time-budget";

/**
 * The paid side of advancing a job: adopting a task we already know of, deciding whether a create
 * may happen at all (a lookup first, the caps, a paused look, one blind repeat at most), and the
 * create itself, whose task id survives a store blip.
 */

/** Waits between retries of recording a task id the vendor returned, while the store blips. */
const RECORD_RETRY_DELAYS_MS = [250, 500, 1_000];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A task named by a callback, or one whose write this process could not make: taken before anything else. */
export async function adoptKnownTask(advancer: Advancer, job: StoredJob): Promise<StoredJob> {
  const step = advancer.pipeline[job.stepIndex];
  if (!step || !job.current || isTerminal(job.status)) return job;
  const key = idempotencyKeyOf(job, step);
  const { accepted } = memoryOf(advancer.deps.store);
  const remembered = accepted.get(job.id);
  if (remembered && (remembered.idempotencyKey !== key || job.current.taskId !== null)) {
    accepted.delete(job.id);
  } else if (remembered) {
    accepted.delete(job.id);
    logEvent("step.task_recovered", {
      jobId: job.id,
      step: step.name,
      taskId: remembered.taskId,
      from: "process",
    });
    return advancer.commit(recordTask(job, remembered.taskId, advancer.now() + step.checkIntervalMs));
  }
  const found = advancer.options.foundTask;
  if (!found) return job;
  const fields = { jobId: job.id, step: step.name, taskId: found.taskId };
  if (found.idempotencyKey !== key) {
    logEvent("step.found_task_ignored", { ...fields, reason: "not the current step's attempt" });
    return job;
  }
  if (job.current.taskId === null) {
    logEvent("step.task_recovered", { ...fields, from: "callback" });
    return advancer.commit(recordTask(job, found.taskId, advancer.now()));
  }
  if (job.current.taskId !== found.taskId) await advancer.cancelQuietly(job, step, found.taskId, "duplicate");
  return job;
}

/**
 * The step has no task: find the one a lost create made, or decide whether a paid create may
 * happen now (caps, a paused look, at most one blind repeat — a lookup that cannot tell counts as
 * none), and make it.
 */
export async function submitStep(advancer: Advancer, job: StoredJob, step: Step): Promise<StoredJob> {
  const key = idempotencyKeyOf(job, step);
  const provider = step.provider(advancer.deps.providers);
  const lost = job.current?.submittingAt ?? null;
  let lookupFailure: string | null = null;
  if (lost !== null && provider.canFindTasks) {
    // The last create's outcome is unknown (its answer was lost): adopt its task if the vendor has it.
    await advancer.beforeVendorCall(advancer.callTimeoutMs);
    const scope = advancer.scope(job, advancer.callTimeoutMs);
    let found: { taskId: string } | null = null;
    try {
      found = await step.findTask(scope, key, { signal: scope.signal, since: lost });
    } catch (error) {
      // A lookup that cannot tell leaves the outcome unknown, as if there were no lookup.
      lookupFailure = error instanceof ProviderError ? (error.detail ?? error.message) : String(error);
      logEvent("step.lookup_failed", { jobId: job.id, step: step.name, detail: lookupFailure });
    }
    if (found) {
      logEvent("step.task_recovered", {
        jobId: job.id,
        step: step.name,
        taskId: found.taskId,
        from: "lookup",
      });
      return advancer.commit(recordTask(job, found.taskId, advancer.now() + step.checkIntervalMs));
    }
    // The vendor has nothing: creating again is not a repeat.
    if (lookupFailure === null) job = forgetSubmit(job);
  }
  const refusal = createRefusal(job, step);
  if (refusal) {
    logEvent("step.create_refused", {
      jobId: job.id,
      step: step.name,
      creates: job.current?.creates,
      jobCreates: job.creates,
    });
    // The caps only stop a step whose vendor kept failing: try again later.
    return advancer.commit(failJob(job, refusal, "provider_unavailable"));
  }
  if (
    mustPause(job, step.name, advancer.options.watcher, advancer.deps.carriers ?? NO_CARRIERS, advancer.now())
  ) {
    logEvent("step.paused", { jobId: job.id, step: step.name, watcher: advancer.options.watcher ?? null });
    return advancer.commit(pauseStep(job, advancer.now()));
  }
  if (job.current?.submittingAt != null) {
    job = countUnknownOutcome(job);
    const fields = { jobId: job.id, step: step.name, provider: provider.name };
    if ((job.current?.unknownOutcomes ?? 0) > MAX_BLIND_REPEATS_PER_STEP) {
      logEvent("step.unknown_twice", fields);
      return advancer.commit(failJob(job, unknownTwiceMessage(step), "provider_unavailable"));
    }
    const reason =
      lookupFailure === null
        ? `the last create's outcome is unknown and ${provider.name} cannot be asked for the task`
        : `the last create's outcome is unknown and ${provider.name}'s lookup could not tell: ${lookupFailure}`;
    logEvent("step.create_repeated", { ...fields, reason });
  }
  return create(advancer, job, step, key);
}

/** The paid call: counted and its intent written first, its task id written after, through store blips. */
async function create(advancer: Advancer, job: StoredJob, step: Step, key: string): Promise<StoredJob> {
  await advancer.beforeVendorCall(advancer.createTimeoutMs, 2);
  const intent = await advancer.commit(markSubmitting(job, advancer.now()));
  const scope = advancer.scope(intent, advancer.createTimeoutMs);
  let submitted: { taskId: string; nextCheckInMs?: number };
  try {
    submitted = await step.submit(scope, { idempotencyKey: key, signal: scope.signal });
  } catch (error) {
    return advancer.fail(
      intent,
      step,
      error,
      createOutcomeOf(error) === "not_created" ? "refused" : "submit",
    );
  }
  const { taskId } = submitted;
  logEvent("step.submitted", { jobId: job.id, step: step.name, attempt: intent.current?.attempt, taskId });
  const { accepted } = memoryOf(advancer.deps.store);
  remember(accepted, job.id, { idempotencyKey: key, taskId });
  const next = recordTask(intent, taskId, advancer.nextCheckAt(step, submitted.nextCheckInMs));
  for (let retry = 0; ; retry++) {
    try {
      const written = await advancer.commit(next);
      accepted.delete(job.id);
      return written;
    } catch (error) {
      // The vendor has the task and we hold its id: keep trying to write it while the lease lasts.
      const wait = RECORD_RETRY_DELAYS_MS[Math.min(retry, RECORD_RETRY_DELAYS_MS.length - 1)] ?? 1_000;
      const fields = { jobId: job.id, step: step.name, taskId, retry };
      if (error instanceof LostRace) await cancelIfEnded(advancer, intent, step, taskId);
      if (!(error instanceof StoreUnavailableError)) throw error;
      if (advancer.lease.leftMs() < wait + COMMIT_ALLOWANCE_MS) {
        logEvent("step.task_write_deferred", fields);
        throw error;
      }
      logEvent("step.task_write_retry", fields);
      await (advancer.deps.sleep ?? sleep)(wait);
    }
  }
}

/**
 * The job was stopped (cancelled, deleted) while this create was on the wire: its task would never
 * be used, so it is cancelled at the vendor where the vendor can.
 */
async function cancelIfEnded(
  advancer: Advancer,
  intent: StoredJob,
  step: Step,
  taskId: string,
): Promise<void> {
  const now = await advancer.deps.store.get(intent.id).catch(() => intent);
  if (now && !isTerminal(now.status)) return;
  logEvent("step.task_orphaned", { jobId: intent.id, step: step.name, taskId });
  await advancer.cancelQuietly(intent, step, taskId, "job_ended");
}
