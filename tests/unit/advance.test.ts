import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalBlobStore } from "@/lib/blobs/local";
import type { BlobStore } from "@/lib/blobs/types";
import { type AdvanceDeps, advance } from "@/lib/jobs/advance";
import { JOB_STATUSES, type StoredJob } from "@/lib/jobs/job";
import { PIPELINE } from "@/lib/jobs/pipeline";
import { toPublicJob } from "@/lib/jobs/public-view";
import { freshStep } from "@/lib/jobs/transitions";
import { ProviderError } from "@/lib/providers/types";
import { createSqliteStore } from "@/lib/store/sqlite";
import { type JobStore, StoreUnavailableError } from "@/lib/store/types";
import { type ScriptedProviders, scriptedProviders } from "@/tests/support/scripted-provider";

const JOB_ID = "0b7d2f4e-8c1a-4b5e-9f3d-2a6c8e1b4d70";
const START = 1_700_000_000_000;

let dir: string;
let store: JobStore;
let blobs: BlobStore;
let providers: ScriptedProviders;
let clock: number;
let deps: AdvanceDeps;

async function createJob(): Promise<StoredJob> {
  const person = await blobs.put(`${JOB_ID}/person-a.jpg`, Buffer.from("person"), "image/jpeg");
  const garment = await blobs.put(`${JOB_ID}/garment-a.jpg`, Buffer.from("garment"), "image/jpeg");
  const job: StoredJob = {
    id: JOB_ID,
    version: 0,
    status: "pending",
    stepIndex: 0,
    current: freshStep(clock),
    occasion: "Garden party",
    inputs: { person, garment },
    artifacts: {},
    error: null,
    nextCheckAt: 0,
    creates: 0,
    watchedAt: null,
    createdAt: clock,
    updatedAt: clock,
  };
  await store.create(job);
  return job;
}

/** Advances with the clock moved just past the job's next check, as a patient poller would. */
async function advanceWhenDue(): Promise<StoredJob> {
  const before = await store.get(JOB_ID);
  if (before && before.nextCheckAt > clock) clock = before.nextCheckAt;
  const job = await advance(JOB_ID, deps);
  if (!job) throw new Error("job vanished");
  return job;
}

const statusRank = (job: StoredJob) => JOB_STATUSES.indexOf(job.status);

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "advance-"));
  store = createSqliteStore({ file: path.join(dir, "jobs.db"), ttlSeconds: 3600 });
  blobs = createLocalBlobStore({ dir: path.join(dir, "blobs") });
  providers = await scriptedProviders();
  clock = START;
  deps = { store, blobs, providers, now: () => clock };
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("advance", () => {
  it("walks every step in order to completed, submitting each step once and copying the final image", async () => {
    await createJob();
    const seen: string[] = [];
    let job = await advanceWhenDue();
    for (let i = 0; i < 20 && job.status !== "completed"; i++) {
      seen.push(job.status);
      const next = await advanceWhenDue();
      expect(statusRank(next)).toBeGreaterThanOrEqual(statusRank(job));
      job = next;
    }
    expect(job.status).toBe("completed");
    expect(seen).toEqual(
      expect.arrayContaining(["pending", "processing-style", "processing-tryon", "processing-faceswap"]),
    );
    for (const provider of [providers.advice, providers.style, providers.tryon, providers.faceswap]) {
      expect(provider.submits.map((s) => s.idempotencyKey)).toEqual([`${JOB_ID}-${provider.name}-1`]);
    }
    const final = job.artifacts.final;
    expect(final?.url).toMatch(new RegExp(`^/api/files/${JOB_ID}/final-[0-9a-f]+\\.jpg$`));
    expect(final && (await blobs.get(final))?.contentType).toBe("image/jpeg");
    const view = toPublicJob(job, clock);
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
    await createJob();
    await advanceWhenDue(); // submits advice
    const job = await advanceWhenDue(); // advice done → style submitted in the same call
    expect(job.status).toBe("processing-style");
    expect(job.current?.taskId).toBe("style-task-1");
  });

  it("does nothing before nextCheckAt: no provider call, the job is returned unchanged", async () => {
    await createJob();
    providers.advice.onCheck({ state: "running", nextCheckInMs: 5_000 });
    await advanceWhenDue();
    const scheduled = await advanceWhenDue();
    expect(scheduled.nextCheckAt).toBe(clock + 5_000);
    const checks = providers.advice.checks.length;
    clock += 4_000;
    const again = await advance(JOB_ID, deps);
    expect(providers.advice.checks.length).toBe(checks);
    expect(again?.version).toBe(scheduled.version);
  });

  it("checks early when nudged by a verified callback, but never submits early", async () => {
    await createJob();
    providers.advice.onSubmit(new ProviderError("transient", "Slow down.", { retryAfterMs: 9_000 }), "ok");
    await advanceWhenDue();
    await advance(JOB_ID, deps, { ignoreSchedule: true });
    expect(providers.advice.submits).toHaveLength(0);
    providers.advice.onCheck(
      { state: "running", nextCheckInMs: 60_000 },
      { state: "succeeded", output: SAMPLE },
    );
    await advanceWhenDue(); // submits
    await advanceWhenDue(); // running, next check in a minute
    const nudged = await advance(JOB_ID, deps, { ignoreSchedule: true });
    expect(providers.advice.checks).toHaveLength(2);
    expect(nudged?.status).toBe("processing-style");
  });

  it("leaves a job alone while another advancer holds its lease", async () => {
    await createJob();
    expect(await store.acquireLease(JOB_ID, "someone-else", 60_000)).not.toBeNull();
    const job = await advance(JOB_ID, deps);
    expect(job?.version).toBe(0);
    expect(providers.advice.submits).toHaveLength(0);
  });

  it("submits once when twenty advancers race for the same job", async () => {
    await createJob();
    await Promise.all(Array.from({ length: 20 }, () => advance(JOB_ID, deps)));
    expect(providers.advice.submits).toHaveLength(1);
  });

  it("retries a transient check failure with exponential backoff, keeping the same task", async () => {
    await createJob();
    const busy = () => new ProviderError("transient", "The service is busy.");
    providers.advice.onCheck(busy(), busy(), busy(), { state: "succeeded", output: { ...SAMPLE } });
    await advanceWhenDue();
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const job = await advanceWhenDue();
      delays.push(job.nextCheckAt - clock);
      expect(job.current?.taskId).toBe("advice-task-1");
    }
    expect(delays).toEqual([1_000, 2_000, 4_000]);
    expect((await advanceWhenDue()).status).toBe("processing-style");
    expect(providers.advice.submits).toHaveLength(1);
  });

  it("honours a provider's retry-after when it is longer than the backoff", async () => {
    await createJob();
    providers.advice.onSubmit(new ProviderError("transient", "Slow down.", { retryAfterMs: 7_500 }), "ok");
    const job = await advanceWhenDue();
    expect(job.nextCheckAt - clock).toBe(7_500);
    expect(job.current?.submittingAt).not.toBeNull();
  });

  it("starts a new attempt with a new idempotency key when the provider's task fails transiently", async () => {
    await createJob();
    providers.advice.onCheck(
      { state: "failed", error: new ProviderError("transient", "The service had a hiccup.") },
      { state: "succeeded", output: SAMPLE },
    );
    await advanceWhenDue();
    const retried = await advanceWhenDue();
    expect(retried.current).toMatchObject({ attempt: 2, taskId: null, failures: 1 });
    await advanceWhenDue();
    expect(providers.advice.submits.map((s) => s.idempotencyKey)).toEqual([
      `${JOB_ID}-advice-1`,
      `${JOB_ID}-advice-2`,
    ]);
  });

  it("fails the job with a readable message once the attempt cap is reached", async () => {
    await createJob();
    providers.advice.onSubmit(new ProviderError("transient", "The advice service is busy right now."));
    let job = await advanceWhenDue();
    for (let i = 0; i < 10 && job.status !== "failed"; i++) job = await advanceWhenDue();
    const cap = PIPELINE[0]?.retry.maxFailures;
    expect(job.status).toBe("failed");
    expect(job.error).toBe(
      `The advice service is busy right now. We tried ${cap} times; please try again later.`,
    );
    expect(toPublicJob(job).error).toBe(job.error);
  });

  it("ends the job at once on a permanent failure, showing the person's message and not the raw detail", async () => {
    await createJob();
    providers.advice.onCheck({
      state: "failed",
      error: new ProviderError("permanent", "The photo could not be used.", {
        detail: "invalid_image sk-secret",
      }),
    });
    await advanceWhenDue();
    const job = await advanceWhenDue();
    expect(job.status).toBe("failed");
    expect(job.error).toBe("The photo could not be used.");
    expect(JSON.stringify(toPublicJob(job))).not.toContain("sk-secret");
    expect(providers.advice.submits).toHaveLength(1);
  });

  it("treats an unexpected exception as transient and retries it", async () => {
    await createJob();
    providers.advice.onSubmit(new TypeError("fetch failed"), "ok");
    const job = await advanceWhenDue();
    expect(job.status).toBe("pending");
    expect(job.current?.lastError).toBe("Writing your styling advice ran into a problem.");
    await advanceWhenDue();
    expect(providers.advice.submits).toHaveLength(1);
  });

  it("fails a step that runs past its deadline, so no job stays in progress forever", async () => {
    await createJob();
    providers.advice.onCheck({ state: "running" });
    await advanceWhenDue();
    const deadline = PIPELINE[0]?.deadlineMs ?? 0;
    let job = await advanceWhenDue();
    for (let i = 0; i < 500 && job.status !== "failed"; i++) job = await advanceWhenDue();
    expect(job.status).toBe("failed");
    expect(job.error).toBe("Writing your styling advice took too long and was stopped. Please try again.");
    expect(clock - START).toBeGreaterThan(deadline);
    expect(clock - START).toBeLessThan(deadline + 10_000);
  });

  it("keeps a result that is ready when the deadline has passed (a late sweep loses nothing)", async () => {
    await createJob();
    providers.advice.onCheck(
      { state: "running", nextCheckInMs: 1_000 },
      { state: "succeeded", output: SAMPLE },
    );
    await advanceWhenDue(); // submit
    await advanceWhenDue(); // running
    clock += (PIPELINE[0]?.deadlineMs ?? 0) + 60_000; // nobody polled for a long time
    const job = await advance(JOB_ID, deps);
    expect(job?.status).toBe("processing-style");
    expect(job?.artifacts.advice?.summary).toBe(SAMPLE.summary);
  });

  it("times out instead of retrying once a step is past its deadline", async () => {
    await createJob();
    providers.advice.onCheck(new ProviderError("transient", "Busy."));
    await advanceWhenDue();
    clock += (PIPELINE[0]?.deadlineMs ?? 0) + 1;
    const job = await advance(JOB_ID, deps);
    expect(job?.status).toBe("failed");
    expect(job?.error).toBe("Writing your styling advice took too long and was stopped. Please try again.");
  });

  it("recovers a submit whose answer was lost instead of paying for it twice", async () => {
    await createJob();
    providers.advice.withTaskLookup();
    // The process "dies" between the provider's answer and our write of the task id.
    const realCas = store.compareAndSet.bind(store);
    let writes = 0;
    store.compareAndSet = async (job, version) => {
      writes++;
      if (writes === 2) throw new StoreUnavailableError(new Error("crash"));
      return realCas(job, version);
    };
    await expect(advance(JOB_ID, deps)).rejects.toBeInstanceOf(StoreUnavailableError);
    store.compareAndSet = realCas;
    const recovered = await advanceWhenDue();
    expect(recovered.current?.taskId).toBe("advice-task-1");
    expect(providers.advice.submits).toHaveLength(1);
  });

  it("returns null for an unknown job", async () => {
    expect(await advance("7c9e6679-7425-40de-944b-e07fc1f90ae7", deps)).toBeNull();
  });
});

const SAMPLE = {
  summary: "Pair it with cream trousers.",
  pieces: ["Cream trousers"],
  stylePrompt: "A styled look",
  source: "offline" as const,
};
