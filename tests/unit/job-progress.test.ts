import { afterEach, describe, expect, it, vi } from "vitest";
import { advance } from "@/lib/jobs/advance";
import { PIPELINE } from "@/lib/jobs/pipeline";
import { advanceForPoll } from "@/lib/jobs/poll-advance";
import { RUNNING_LONG_NOTE, toPublicJob } from "@/lib/jobs/public-view";
import { stepTimesOf } from "@/lib/jobs/step-timing";
import type { PublicJob } from "@/lib/public-job";
import { AdvanceHarness, JOB_ID, START } from "@/tests/support/advance-harness";
import { allOf, type ScriptedProvider } from "@/tests/support/scripted-provider";

/**
 * Progress and the estimate, with a job driven through the real engine (SQLite store, scripted
 * vendors whose tasks take a set time on the harness's clock) and viewed as a polling person would.
 */

let h: AdvanceHarness;
afterEach(async () => {
  await h?.close();
});

/** Each task of `provider` takes `durationOf(n)` ms (n: its 1-based number) from its create. */
// biome-ignore lint/suspicious/noExplicitAny: any of the four scripted providers, whatever their types
function timed(provider: ScriptedProvider<any, any>, durationOf: (n: number) => number) {
  const endsAt = new Map<string, number>();
  provider.duringSubmit = () => {
    const n = provider.submits.length + 1;
    endsAt.set(`${provider.name}-task-${n}`, h.time + durationOf(n));
  };
  provider.decideChecks((taskId) =>
    h.time >= (endsAt.get(taskId) ?? Number.POSITIVE_INFINITY)
      ? { state: "succeeded", output: provider.output }
      : { state: "running" },
  );
}

const seriesOfStep = (i: number) => PIPELINE[i]?.provider(h.providers).series ?? "";

/** Polls like the page: every pollAfterMs (clamped), or every `everyMs` when given; returns every view. */
async function watch(options: { everyMs?: number; between?: (view: PublicJob) => Promise<void> } = {}) {
  const views: Array<{ at: number; view: PublicJob }> = [];
  for (let i = 0; i < 2_000; i++) {
    const job = await advance(JOB_ID, h.deps, { watcher: "person" });
    if (!job) throw new Error("job vanished");
    const view = toPublicJob(job, h.time);
    views.push({ at: h.time, view });
    if (view.status === "completed" || view.status === "failed") return views;
    await options.between?.(view);
    h.time += options.everyMs ?? view.pollAfterMs ?? 1_000;
  }
  throw new Error("the job never finished");
}

function expectHonest(views: Array<{ at: number; view: PublicJob }>) {
  let last = 0;
  for (const { at, view } of views) {
    expect(view.progress).toBeGreaterThanOrEqual(last);
    last = view.progress;
    if (view.status === "completed" || view.status === "failed") continue;
    if (view.estimatedReadyAt !== null) expect(Date.parse(view.estimatedReadyAt)).toBeGreaterThan(at);
  }
  expect(views.at(-1)?.view.status).toBe("completed");
  expect(views.at(-1)?.view.progress).toBe(1);
}

describe("what a person is told while a job runs", () => {
  it("progress never moves backwards and the estimate is always ahead, cold start and learning alike", async () => {
    h = await AdvanceHarness.start();
    for (const [i, provider] of allOf(h.providers).entries()) timed(provider, () => 3_000 + i * 1_500);
    await h.createJob();
    let injected = 0;
    const views = await watch({
      everyMs: 700,
      // Mid-job, other instances learn that every step takes far longer, then far shorter.
      between: async () => {
        injected++;
        if (injected % 5 !== 0) return;
        const ms = injected % 10 === 0 ? 500 : 60_000;
        for (let i = 0; i < PIPELINE.length; i++) await stepTimesOf(h.store).record(seriesOfStep(i), ms);
      },
    });
    expectHonest(views);
    expect(views.some(({ view }) => view.estimatedReadyAt !== null)).toBe(true);
    expect(new Set(views.map(({ view }) => view.progress)).size).toBeGreaterThan(8);
  });

  it("estimates from learned times, and stays honest when a step runs long", async () => {
    h = await AdvanceHarness.start();
    for (let i = 0; i < PIPELINE.length; i++) {
      for (const ms of [4_000, 4_100, 3_900]) await stepTimesOf(h.store).record(seriesOfStep(i), ms);
    }
    const [advice, style, tryon, faceswap] = allOf(h.providers);
    timed(advice, () => 4_000);
    timed(style, () => 16_000); // four times what was learned
    timed(tryon, () => 4_000);
    timed(faceswap, () => 4_000);
    await h.createJob();
    const views = await watch();
    expectHonest(views);
    const first = views.find(({ view }) => view.estimatedReadyAt !== null);
    const eta = Date.parse(first?.view.estimatedReadyAt ?? "") - START;
    // Four steps of ~4 s and their hand-offs.
    expect(eta).toBeGreaterThan(15_000);
    expect(eta).toBeLessThan(22_000);
    const long = views.filter(({ view }) => view.statusMessage.endsWith(RUNNING_LONG_NOTE));
    expect(long.length).toBeGreaterThan(0);
    expect(long.every(({ view }) => view.status === "processing-style")).toBe(true);
  });

  it("aims a learned step's first check at its expected end, a little late, and learns the new task", async () => {
    h = await AdvanceHarness.start();
    const series = seriesOfStep(0);
    for (const ms of [4_000, 4_000, 4_000]) await stepTimesOf(h.store).record(series, ms);
    timed(h.providers.advice, () => 3_000);
    await h.createJob();
    const submitted = await h.advanceWhenDue();
    expect(submitted.nextCheckAt).toBe(START + 4_120);
    const done = await h.advanceWhenDue();
    expect(done.stepIndex).toBe(1);
    expect(h.providers.advice.checks).toHaveLength(1);
    // Found done at its first check (4.12 s): it is learned as 75 % of that.
    expect((await h.store.readSamples(series))[0]).toBe(Math.round(4_120 * 0.75));
  });

  it("carries on from where a job that starts further on (a redo) stood, never back", async () => {
    h = await AdvanceHarness.start();
    for (const provider of allOf(h.providers)) timed(provider, () => 3_000);
    const style = await h.blobs.put("redo/style.jpg", Buffer.from("style"), "image/jpeg");
    await h.createJob({ stepIndex: 2, status: "processing-tryon", artifacts: { style } });
    const views = await watch({ everyMs: 500 });
    expect(views[0]?.view.progress).toBe(0.5);
    expectHonest(views);
    expect(views.some(({ view }) => view.estimatedReadyAt !== null && view.progress > 0.5)).toBe(true);
  });

  it("says nothing of when while no step has a basis: step-counted progress, no estimate", async () => {
    h = await AdvanceHarness.start();
    const job = await h.createJob({ stepIndex: 2, status: "processing-tryon" });
    const view = toPublicJob(job, h.time);
    expect(view.progress).toBe(0.5);
    expect(view.estimatedReadyAt).toBeNull();
  });
});

describe("a poll answers late rather than twice", () => {
  it("waits for a check due within the window and answers the fresh state", async () => {
    h = await AdvanceHarness.start();
    await stepTimesOf(h.store).record(seriesOfStep(0), 2_000);
    timed(h.providers.advice, () => 1_900);
    await h.createJob();
    const submitted = await h.advanceWhenDue();
    h.time = submitted.nextCheckAt - 600;
    const sleep = vi.spyOn(h.deps, "sleep");
    const job = await advanceForPoll(JOB_ID, h.deps, { watcher: "person" }, h.time + 5_000);
    expect(sleep).toHaveBeenCalledTimes(1);
    expect(job?.stepIndex).toBe(1);
  });

  it("waits once: a check that found the task running is answered, not waited past", async () => {
    h = await AdvanceHarness.start();
    await stepTimesOf(h.store).record(seriesOfStep(0), 2_000);
    timed(h.providers.advice, () => 5_000);
    await h.createJob();
    const submitted = await h.advanceWhenDue();
    h.time = submitted.nextCheckAt - 600;
    const sleep = vi.spyOn(h.deps, "sleep");
    const job = await advanceForPoll(JOB_ID, h.deps, { watcher: "person" }, h.time + 5_000);
    expect(sleep).toHaveBeenCalledTimes(1);
    expect(job?.current?.runningChecks).toBe(1);
    // The next check is within the window, yet this request answered what its check found.
    expect((job?.nextCheckAt ?? 0) - h.time).toBeLessThanOrEqual(1_000);
  });

  it("answers at once with one store read when the next check is further off", async () => {
    h = await AdvanceHarness.start();
    await stepTimesOf(h.store).record(seriesOfStep(0), 20_000);
    await h.createJob();
    const submitted = await h.advanceWhenDue();
    h.time = submitted.nextCheckAt - 3_000;
    const reads = vi.spyOn(h.store, "get");
    const lease = vi.spyOn(h.store, "acquireLease");
    const job = await advanceForPoll(JOB_ID, h.deps, { watcher: "person" }, h.time + 5_000);
    expect(job?.version).toBe(submitted.version);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(lease).not.toHaveBeenCalled();
  });

  it("never waits past its answer-by time", async () => {
    h = await AdvanceHarness.start();
    await stepTimesOf(h.store).record(seriesOfStep(0), 2_000);
    await h.createJob();
    const submitted = await h.advanceWhenDue();
    h.time = submitted.nextCheckAt - 600;
    const job = await advanceForPoll(JOB_ID, h.deps, { watcher: "person" }, h.time + 100);
    expect(job?.version).toBe(submitted.version);
  });
});
