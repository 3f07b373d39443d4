import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { nudgeJob } from "@/lib/callbacks/nudge-job";
import { StoreUnavailableError } from "@/lib/failures";
import { type AdvanceDeps, advance } from "@/lib/jobs/advance";
import { unknownTwiceMessage } from "@/lib/jobs/create-budget";
import { createOutcomeOf } from "@/lib/jobs/create-outcome";
import { parseStoredJob, type StoredJob } from "@/lib/jobs/job";
import type { JobStore } from "@/lib/jobs/job-store";
import { PIPELINE } from "@/lib/jobs/pipeline";
import { publicJobOf, toPublicJob } from "@/lib/jobs/public-view";
import { ProviderError } from "@/lib/providers/types";
import { JOB_STATUSES } from "@/lib/step-catalogue";
import { AdvanceHarness, JOB_ID, START } from "@/tests/support/advance-harness";
import {
  allOf,
  LostAnswer,
  refused,
  type ScriptedProviders,
  taskMissing,
  unknownOutcome,
} from "@/tests/support/scripted-provider";

let h: AdvanceHarness;
let providers: ScriptedProviders;

const statusRank = (job: StoredJob) => JOB_STATUSES.indexOf(job.status);
const ADVICE = PIPELINE[0];
if (!ADVICE) throw new Error("the pipeline has no first step");
const KEY_1 = `${JOB_ID}-advice-1`;

/** The structured log lines advance printed while `work` ran, by event name. */
async function logged(work: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const lines: Array<Record<string, unknown>> = [];
  const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => {
    if (typeof line === "string" && line.startsWith("{")) lines.push(JSON.parse(line));
  });
  try {
    await work();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

/** Makes the store's compare-and-set throw `error` on the `nth` write from now (a crash mid-advance). */
function failNthWrite(nth: number, error: Error, store: JobStore = h.store) {
  const real = store.compareAndSet.bind(store);
  let writes = 0;
  store.compareAndSet = async (job, version) => {
    writes++;
    if (writes === nth) throw error;
    return real(job, version);
  };
  return () => {
    store.compareAndSet = real;
  };
}

/** Another process whose `nth` write from now crashes it. */
function processCrashingAt(nth: number): AdvanceDeps {
  const deps = h.newProcess();
  failNthWrite(nth, new Error("process killed"), deps.store);
  return deps;
}

beforeEach(async () => {
  h = await AdvanceHarness.start();
  providers = h.providers;
});

afterEach(async () => {
  await h.close();
});

describe("advance", () => {
  it("walks every step in order to completed, submitting each step once and copying the final image", async () => {
    await h.createJob();
    const seen: string[] = [];
    let job = await h.advanceWhenDue();
    for (let i = 0; i < 20 && job.status !== "completed"; i++) {
      seen.push(job.status);
      const next = await h.advanceWhenDue();
      expect(statusRank(next)).toBeGreaterThanOrEqual(statusRank(job));
      job = next;
    }
    expect(job.status).toBe("completed");
    expect(seen).toEqual(
      expect.arrayContaining(["pending", "processing-style", "processing-tryon", "processing-faceswap"]),
    );
    for (const provider of allOf(providers)) {
      expect(provider.submits.map((s) => s.idempotencyKey)).toEqual([`${JOB_ID}-${provider.name}-1`]);
    }
    expect(job.creates).toBe(4);
    const final = job.artifacts.final;
    expect(final?.url).toMatch(new RegExp(`^/api/files/${JOB_ID}/final-[0-9a-f]+\\.jpg$`));
    expect(final && (await h.blobs.get(final))?.contentType).toBe("image/jpeg");
    // The image's address comes from the store (local: the files route), never straight from the record.
    const view = await publicJobOf(job, h.blobs, null, h.time);
    expect(view).toMatchObject({
      status: "completed",
      imageUrl: final?.url,
      step: 4,
      totalSteps: 4,
      pollAfterMs: null,
    });
    expect(view.advice?.pieces).toEqual(["Cream trousers", "Tan loafers"]);
  });

  it("moves straight on to the next step's submit when a step finishes", async () => {
    await h.createJob();
    await h.advanceWhenDue(); // submits advice
    const job = await h.advanceWhenDue(); // advice done → style submitted in the same call
    expect(job.status).toBe("processing-style");
    expect(job.current?.taskId).toBe("style-task-1");
  });

  it("does nothing before nextCheckAt: one store read, no provider call, the job unchanged", async () => {
    await h.createJob();
    providers.advice.onCheck({ state: "running", nextCheckInMs: 5_000 });
    await h.advanceWhenDue();
    const scheduled = await h.advanceWhenDue();
    expect(scheduled.nextCheckAt).toBe(h.time + 5_000);
    const checks = providers.advice.checks.length;
    h.time += 4_000;
    const calls: string[] = [];
    const spied = new Proxy(h.store, {
      get: (target, name, receiver) => {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(String(name));
          return value.apply(target, args);
        };
      },
    });
    const again = await advance(JOB_ID, { ...h.deps, store: spied }, { watcher: "person" });
    expect(calls).toEqual(["get"]);
    expect(providers.advice.checks.length).toBe(checks);
    expect(again?.version).toBe(scheduled.version);
  });

  it("checks early when nudged by a verified callback, but never submits early", async () => {
    await h.createJob();
    providers.advice.onSubmit(refused("Slow down.", 9_000), "ok");
    await h.advanceWhenDue();
    await advance(JOB_ID, h.deps, { ignoreSchedule: true });
    expect(providers.advice.submits).toHaveLength(0);
    providers.advice.onCheck(
      { state: "running", nextCheckInMs: 60_000 },
      { state: "succeeded", output: providers.advice.output },
    );
    await h.advanceWhenDue(); // submits
    await h.advanceWhenDue(); // running, next check in a minute
    const nudged = await advance(JOB_ID, h.deps, { ignoreSchedule: true });
    expect(providers.advice.checks).toHaveLength(2);
    expect(nudged?.status).toBe("processing-style");
  });

  it("leaves a job alone while another advancer holds its lease", async () => {
    await h.createJob();
    expect(await h.store.acquireLease(JOB_ID, "someone-else", 60_000)).not.toBeNull();
    const job = await advance(JOB_ID, h.deps);
    expect(job?.version).toBe(0);
    expect(providers.advice.calls).toBe(0);
  });

  it("submits once when twenty advancers race for the same job", async () => {
    await h.createJob();
    await Promise.all(Array.from({ length: 20 }, () => advance(JOB_ID, h.deps)));
    expect(providers.advice.calls).toBe(1);
  });

  it("retries a transient check failure with exponential backoff, keeping the same task", async () => {
    await h.createJob();
    const busy = () => new ProviderError("transient", "The service is busy.");
    providers.advice.onCheck(busy(), busy(), busy(), { state: "succeeded", output: providers.advice.output });
    await h.advanceWhenDue();
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const job = await h.advanceWhenDue();
      delays.push(job.nextCheckAt - h.time);
      expect(job.current?.taskId).toBe("advice-task-1");
    }
    expect(delays).toEqual([1_000, 2_000, 4_000]);
    expect((await h.advanceWhenDue()).status).toBe("processing-style");
    expect(providers.advice.calls).toBe(1);
  });

  it("honours a provider's retry-after when it is longer than the backoff", async () => {
    await h.createJob();
    providers.advice.onSubmit(refused("Slow down.", 7_500), "ok");
    const job = await h.advanceWhenDue();
    expect(job.nextCheckAt - h.time).toBe(7_500);
  });

  it("starts a new attempt with a new idempotency key when the provider's task fails transiently", async () => {
    await h.createJob();
    providers.advice.onCheck(
      { state: "failed", error: new ProviderError("transient", "The service had a hiccup.") },
      { state: "succeeded", output: providers.advice.output },
    );
    await h.advanceWhenDue();
    const retried = await h.advanceWhenDue();
    expect(retried.current).toMatchObject({ attempt: 2, taskId: null, failures: 1 });
    await h.advanceWhenDue();
    expect(providers.advice.submits.map((s) => s.idempotencyKey)).toEqual([KEY_1, `${JOB_ID}-advice-2`]);
  });

  it("fails the job with a readable message once the attempt cap is reached", async () => {
    await h.createJob();
    providers.advice.onSubmit(refused("The advice service is busy right now."));
    const job = await h.runToEnd();
    const cap = ADVICE.retry.maxFailures;
    expect(job.status).toBe("failed");
    expect(job.error).toBe(
      `The advice service is busy right now. We tried ${cap} times; please try again later.`,
    );
    expect(providers.advice.calls).toBe(cap);
    expect(toPublicJob(job).error).toBe(job.error);
  });

  it("ends the job at once on a permanent failure, showing the person's message and not the raw detail", async () => {
    await h.createJob();
    providers.advice.onCheck({
      state: "failed",
      error: new ProviderError("permanent", "The photo could not be used.", {
        detail: "invalid_image sk-secret",
      }),
    });
    await h.advanceWhenDue();
    const job = await h.advanceWhenDue();
    expect(job.status).toBe("failed");
    expect(job.error).toBe("The photo could not be used.");
    expect(JSON.stringify(toPublicJob(job))).not.toContain("sk-secret");
    expect(providers.advice.calls).toBe(1);
  });

  it("treats an unexpected exception as transient and retries it", async () => {
    await h.createJob();
    providers.advice.onSubmit(new TypeError("fetch failed"), "ok");
    const job = await h.advanceWhenDue();
    expect(job.status).toBe("pending");
    expect(job.current?.lastError).toBe("Writing your styling advice ran into a problem.");
    await h.advanceWhenDue();
    expect(providers.advice.submits).toHaveLength(1);
  });

  it("fails a step that runs past its deadline, so no job stays in progress forever", async () => {
    await h.createJob();
    providers.advice.onCheck({ state: "running" });
    const job = await h.runToEnd({}, 500);
    expect(job.status).toBe("failed");
    expect(job.error).toBe("Writing your styling advice took too long and was stopped. Please try again.");
    expect(h.time - START).toBeGreaterThan(ADVICE.deadlineMs);
    expect(h.time - START).toBeLessThan(ADVICE.deadlineMs + 10_000);
  });

  it("cancels a task that timed out at its vendor, when the vendor can cancel", async () => {
    await h.createJob();
    providers.advice.withCancel().onCheck({ state: "running" });
    const job = await h.runToEnd({}, 500);
    expect(job.status).toBe("failed");
    expect(providers.advice.cancels).toEqual(["advice-task-1"]);
  });

  it("keeps a result that is ready when the deadline has passed (a late sweep loses nothing)", async () => {
    await h.createJob();
    providers.advice.onCheck(
      { state: "running", nextCheckInMs: 1_000 },
      { state: "succeeded", output: providers.advice.output },
    );
    await h.advanceWhenDue(); // submit
    await h.advanceWhenDue(); // running
    h.time += ADVICE.deadlineMs + 60_000; // nobody polled for a long time
    const job = await advance(JOB_ID, h.deps);
    expect(job?.status).toBe("processing-style");
    expect(job?.artifacts.advice?.summary).toBe(providers.advice.output.summary);
  });

  it("times out instead of retrying once a step is past its deadline", async () => {
    await h.createJob();
    providers.advice.onCheck(new ProviderError("transient", "Busy."));
    await h.advanceWhenDue();
    h.time += ADVICE.deadlineMs + 1;
    const job = await advance(JOB_ID, h.deps);
    expect(job?.status).toBe("failed");
    expect(job?.error).toBe("Writing your styling advice took too long and was stopped. Please try again.");
  });

  it("returns null for an unknown job", async () => {
    expect(await advance("7c9e6679-7425-40de-944b-e07fc1f90ae7", h.deps)).toBeNull();
  });

  it("reads records written before the spend bound, filling its counters with zeros", () => {
    const old = {
      id: JOB_ID,
      version: 3,
      status: "pending",
      stepIndex: 0,
      current: { attempt: 1, startedAt: 1, submittingAt: null, taskId: null, failures: 0, lastError: null },
      occasion: "Old",
      inputs: { person: { key: "p", url: "/p" }, garment: { key: "g", url: "/g" } },
      artifacts: {},
      error: null,
      nextCheckAt: 0,
      createdAt: 1,
      updatedAt: 1,
    };
    const job = parseStoredJob(JSON.stringify(old));
    expect(job).toMatchObject({ creates: 0, watchedAt: null });
    expect(job.current).toMatchObject({ creates: 0, unknownOutcomes: 0, missingChecks: 0, pausedAt: null });
  });
});

describe("create outcomes", () => {
  it("classifies what a submit throws: refused and unresolvable names are not created, the rest unknown", () => {
    const refusedSocket = new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
    const dns = new Error("getaddrinfo", { cause: new Error("inner", { cause: { code: "ENOTFOUND" } }) });
    expect(createOutcomeOf(refusedSocket)).toBe("not_created");
    expect(createOutcomeOf(dns)).toBe("not_created");
    expect(createOutcomeOf(new TypeError("fetch failed", { cause: { code: "ECONNRESET" } }))).toBe("unknown");
    expect(createOutcomeOf(new DOMException("timed out", "TimeoutError"))).toBe("unknown");
    expect(createOutcomeOf(new ProviderError("transient", "x"))).toBe("unknown");
    expect(createOutcomeOf(refused())).toBe("not_created");
    // The provider's verdict wins over what its cause looks like.
    expect(
      createOutcomeOf(new ProviderError("transient", "x", { outcome: "unknown", cause: refusedSocket })),
    ).toBe("unknown");
  });

  it("creates again after a refusal, without looking for a task that cannot exist", async () => {
    await h.createJob();
    providers.advice.withTaskLookup().onSubmit(refused(), "ok");
    const first = await h.advanceWhenDue();
    expect(first.current).toMatchObject({ submittingAt: null, creates: 1 });
    const second = await h.advanceWhenDue();
    expect(second.current).toMatchObject({ taskId: "advice-task-1", creates: 2 });
    expect(providers.advice.lookups).toEqual([]);
  });

  it("looks an unknown outcome up first and adopts the task it finds, creating nothing more", async () => {
    await h.createJob();
    providers.advice.withTaskLookup().onSubmit(new LostAnswer(), "ok");
    const lost = await h.advanceWhenDue();
    const since = lost.current?.submittingAt;
    expect(since).toBe(START);
    const recovered = await h.advanceWhenDue();
    expect(recovered.current?.taskId).toBe("advice-task-1");
    expect(providers.advice.lookups).toEqual([{ idempotencyKey: KEY_1, since }]);
    expect(providers.advice.calls).toBe(1);
  });

  it("creates again when the lookup says the vendor has no such task", async () => {
    await h.createJob();
    providers.advice.withTaskLookup().onSubmit(unknownOutcome(), unknownOutcome(), "ok");
    const job = await h.runToEnd();
    expect(job.status).toBe("completed");
    expect(providers.advice.calls).toBe(3);
    expect(providers.advice.lookups).toHaveLength(2);
    expect(job.creates).toBe(6);
  });

  it("counts a lookup that cannot tell as none: one blind repeat, the reason logged, then the step stops", async () => {
    await h.createJob();
    providers.advice.findTask = async () => {
      throw new ProviderError("transient", "The service had a hiccup.", {
        detail: "17 predictions, none ours",
      });
    };
    providers.advice.onSubmit(new LostAnswer());
    await h.advanceWhenDue();
    const lines = await logged(() => h.advanceWhenDue());
    const repeat = lines.find((line) => line.event === "step.create_repeated");
    expect(String(repeat?.reason)).toMatch(/lookup could not tell: 17 predictions, none ours/);
    expect(providers.advice.calls).toBe(2);
    const job = await h.runToEnd();
    expect(job.status).toBe("failed");
    expect(job.error).toBe(unknownTwiceMessage(ADVICE));
    expect(providers.advice.calls).toBe(2);
  });

  it("repeats an unknown outcome once, with the reason logged, when the vendor cannot be asked", async () => {
    await h.createJob();
    providers.advice.onSubmit(new LostAnswer(), "ok");
    await h.advanceWhenDue();
    const lines = await logged(() => h.advanceWhenDue());
    const repeat = lines.find((line) => line.event === "step.create_repeated");
    expect(repeat).toMatchObject({ jobId: JOB_ID, step: "advice" });
    expect(String(repeat?.reason)).toMatch(/outcome is unknown.*cannot be asked/);
    const job = await h.read();
    expect(job.current).toMatchObject({ taskId: "advice-task-2", unknownOutcomes: 1, creates: 2 });
  });

  it("fails the step with a readable sentence at its second unknown outcome, instead of a third create", async () => {
    await h.createJob();
    providers.advice.onSubmit(new LostAnswer(), unknownOutcome(), "ok");
    const job = await h.runToEnd();
    expect(job.status).toBe("failed");
    expect(job.error).toBe(unknownTwiceMessage(ADVICE));
    expect(providers.advice.calls).toBe(2);
  });

  it("counts a create whose answer died with its process as unknown: one blind repeat, then failed", async () => {
    await h.createJob();
    // The process "dies" between the vendor's answer and our write of the task id, twice.
    for (let crash = 0; crash < 2; crash++) {
      await expect(advance(JOB_ID, processCrashingAt(2))).rejects.toThrow("process killed");
    }
    const job = await h.advanceWhenDue({}, h.newProcess());
    expect(job.status).toBe("failed");
    expect(job.error).toBe(unknownTwiceMessage(ADVICE));
    expect(providers.advice.calls).toBe(2);
  });

  it("recovers a submit whose answer died with its process through the vendor's lookup", async () => {
    await h.createJob();
    providers.advice.withTaskLookup();
    await expect(advance(JOB_ID, processCrashingAt(2))).rejects.toThrow("process killed");
    const recovered = await h.advanceWhenDue({}, h.newProcess());
    expect(recovered.current?.taskId).toBe("advice-task-1");
    expect(providers.advice.calls).toBe(1);
  });

  it("counts every create before making it, in the stored job", async () => {
    await h.createJob();
    const seen: Array<[number, number]> = [];
    providers.advice.duringSubmit = async () => {
      const stored = await h.read();
      seen.push([stored.current?.creates ?? -1, stored.creates]);
    };
    providers.advice.onSubmit(refused(), "ok");
    await h.advanceWhenDue();
    await h.advanceWhenDue();
    expect(seen).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });
});

describe("a check that finds no such task", () => {
  it("is checked again with backoff, and only the second in a row starts a new attempt", async () => {
    await h.createJob();
    providers.advice.onCheck(taskMissing(), { state: "failed", error: taskMissing() }, { state: "running" });
    await h.advanceWhenDue(); // submit
    const once = await h.advanceWhenDue();
    expect(once.current).toMatchObject({ taskId: "advice-task-1", missingChecks: 1, attempt: 1 });
    expect(once.nextCheckAt - h.time).toBe(1_000);
    const twice = await h.advanceWhenDue();
    expect(twice.current).toMatchObject({ taskId: null, attempt: 2, missingChecks: 0 });
    const again = await h.advanceWhenDue();
    expect(again.current).toMatchObject({ taskId: "advice-task-2", creates: 2 });
    expect(providers.advice.calls).toBe(2);
  });

  it("forgets a missing answer once the task is seen again", async () => {
    await h.createJob();
    providers.advice.onCheck(taskMissing(), { state: "running", nextCheckInMs: 1_000 }, taskMissing(), {
      state: "running",
    });
    for (let i = 0; i < 4; i++) await h.advanceWhenDue();
    const job = await h.read();
    expect(job.current).toMatchObject({ taskId: "advice-task-1", attempt: 1, missingChecks: 1 });
    expect(providers.advice.calls).toBe(1);
  });
});

describe("a task named by a verified callback", () => {
  it("is adopted when the step waits on its key: no second create", async () => {
    await h.createJob();
    providers.advice.onSubmit(new LostAnswer());
    await h.advanceWhenDue();
    const [lost] = providers.advice.submits;
    const job = await advance(JOB_ID, h.deps, {
      foundTask: { idempotencyKey: KEY_1, taskId: lost?.taskId ?? "" },
      ignoreSchedule: true,
      watcher: "callback",
    });
    expect(job?.status).toBe("processing-style");
    expect(providers.advice.checks).toEqual(["advice-task-1"]);
    expect(providers.advice.calls).toBe(1);
  });

  it("is ignored for another attempt, and cancelled when it duplicates the step's own task", async () => {
    await h.createJob();
    providers.advice.withCancel().onCheck({ state: "running", nextCheckInMs: 60_000 });
    await h.advanceWhenDue();
    const other = await advance(JOB_ID, h.deps, {
      foundTask: { idempotencyKey: `${JOB_ID}-advice-7`, taskId: "stray" },
    });
    expect(other?.current?.taskId).toBe("advice-task-1");
    await advance(JOB_ID, h.deps, { foundTask: { idempotencyKey: KEY_1, taskId: "duplicate" } });
    expect(providers.advice.cancels).toEqual(["duplicate"]);
    expect((await h.read()).current?.taskId).toBe("advice-task-1");
  });

  it("reaches advance through a callback's nudge", async () => {
    await h.createJob();
    providers.advice.onSubmit(new LostAnswer());
    await h.advanceWhenDue();
    const foundTask = { idempotencyKey: KEY_1, taskId: "advice-task-1" };
    await nudgeJob(h.deps, async () => ({ jobId: JOB_ID, foundTask }), { source: "test" });
    expect((await h.read()).status).toBe("processing-style");
    expect(providers.advice.calls).toBe(1);
  });
});

describe("store trouble", () => {
  it("passes a store outage on to the caller, writing nothing half-done", async () => {
    await h.createJob();
    const restore = failNthWrite(1, new StoreUnavailableError(new Error("down")));
    await expect(advance(JOB_ID, h.deps)).rejects.toBeInstanceOf(StoreUnavailableError);
    restore();
    expect(providers.advice.calls).toBe(0);
  });
});
