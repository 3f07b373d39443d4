import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "@/lib/config";
import { advance } from "@/lib/jobs/advance";
import { PIPELINE } from "@/lib/jobs/pipeline";
import { PAUSED_MESSAGE, toPublicJob } from "@/lib/jobs/public-view";
import { sweepDueJobs } from "@/lib/jobs/sweep";
import { type Carriers, NO_CARRIERS } from "@/lib/jobs/unattended";
import { carriersFrom } from "@/lib/wiring/carriers";
import { AdvanceHarness, JOB_ID, START } from "@/tests/support/advance-harness";
import { refused, type ScriptedProviders } from "@/tests/support/scripted-provider";

let h: AdvanceHarness;
let providers: ScriptedProviders;
const [ADVICE, STYLE] = PIPELINE;
if (!ADVICE || !STYLE) throw new Error("the pipeline lacks its first two steps");
const MINUTE = 60_000;

beforeEach(async () => {
  h = await AdvanceHarness.start();
  providers = h.providers;
});

afterEach(async () => {
  await h.close();
});

const sweep = () => sweepDueJobs(h.deps, { limit: 10, budgetMs: 10_000, now: () => h.time });

describe("delays are bounded", () => {
  it("clamps a vendor's Retry-After to the step's largest backoff", async () => {
    await h.createJob();
    providers.advice.onSubmit(refused("Slow down.", 86_400_000), "ok");
    const job = await h.advanceWhenDue();
    expect(job.nextCheckAt - h.time).toBe(ADVICE.retry.maxDelayMs);
    h.time = job.nextCheckAt;
    expect((await advance(JOB_ID, h.deps))?.current?.taskId).toBe("advice-task-1");
  });

  it("never schedules a step past its deadline", async () => {
    await h.createJob();
    h.time = START + ADVICE.deadlineMs - 5_000;
    providers.advice.onSubmit(refused("Slow down.", 60_000));
    const job = await advance(JOB_ID, h.deps);
    expect(job?.nextCheckAt).toBe(START + ADVICE.deadlineMs + 1);
    h.time = job?.nextCheckAt ?? 0;
    const failed = await advance(JOB_ID, h.deps);
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toBe(
      "Writing your styling advice took too long and was stopped. Please try again.",
    );
  });

  it("fails a job past its deadline on the next poll, whatever its nextCheckAt", async () => {
    await h.createJob();
    providers.advice.onCheck({ state: "running" });
    const submitted = await h.advanceWhenDue();
    // A record parked far ahead (as one written before this bound could be).
    await h.store.compareAndSet({ ...submitted, nextCheckAt: h.time + 86_400_000 }, submitted.version);
    h.time = START + ADVICE.deadlineMs + 1;
    const job = await advance(JOB_ID, h.deps, { watcher: "person" });
    expect(job?.status).toBe("failed");
    expect(providers.advice.checks).toHaveLength(1);
  });

  it("lets the sweep find a job whose vendor asked it to wait past its deadline", async () => {
    await h.createJob();
    providers.advice.onSubmit(refused("Slow down.", 86_400_000));
    await h.advanceWhenDue();
    h.time = START + ADVICE.deadlineMs + 2;
    expect(await h.store.listDue(h.time, 10)).toEqual([JOB_ID]);
    expect(await sweep()).toMatchObject({ due: 1, advanced: 1, errors: 0 });
    expect((await h.read()).status).toBe("failed");
  });
});

describe("who watches", () => {
  it("records a person's watch with the writes their poll makes, and adds none to an idle poll", async () => {
    await h.createJob();
    h.time += 10_000;
    const written = await advance(JOB_ID, h.deps, { watcher: "person" });
    expect(written?.watchedAt).toBe(h.time);
    h.time += 500;
    const idle = await advance(JOB_ID, h.deps, { watcher: "person" });
    expect(idle?.version).toBe(written?.version);
    h.time = idle?.nextCheckAt ?? 0;
    const bySweep = await advance(JOB_ID, h.deps, { watcher: "sweep" });
    expect(bySweep?.watchedAt).toBe(written?.watchedAt);
  });

  it("does not let a sweep submit the next paid step of a job nobody watched; a person's poll resumes it", async () => {
    await h.createJob();
    providers.advice.onCheck(
      { state: "running", nextCheckInMs: 1_000 },
      { state: "succeeded", output: providers.advice.output },
    );
    await h.advanceWhenDue({ watcher: "person" }); // advice submitted while the tab was open
    await h.advanceWhenDue({ watcher: "person" }); // still running
    h.time += 4 * MINUTE; // the tab closed
    await sweep();
    const paused = await h.read();
    // The running task was still checked and its result kept…
    expect(paused.artifacts.advice?.summary).toBe(providers.advice.output.summary);
    // …but the next paid step waits for a person.
    expect(paused.status).toBe("processing-style");
    expect(paused.current).toMatchObject({ pausedAt: h.time, taskId: null, creates: 0 });
    expect(providers.style.calls).toBe(0);
    expect(toPublicJob(paused, h.time).statusMessage).toBe(PAUSED_MESSAGE);
    // Off the sweep's list and out of the in-progress count; a callback changes nothing either.
    h.time += 10 * MINUTE;
    expect(await h.store.listDue(h.time, 10)).toEqual([]);
    expect(await h.store.countActive(0)).toBe(0);
    expect((await advance(JOB_ID, h.deps, { watcher: "callback", ignoreSchedule: true }))?.version).toBe(
      paused.version,
    );
    // Opened again, well past the step's deadline: the step starts afresh and is not timed out.
    const resumed = await advance(JOB_ID, h.deps, { watcher: "person" });
    expect(resumed?.status).toBe("processing-style");
    expect(resumed?.current).toMatchObject({ pausedAt: null, startedAt: h.time, taskId: "style-task-1" });
    expect(toPublicJob(resumed ?? paused, h.time).statusMessage).toBe(STYLE.message);
    expect(providers.style.calls).toBe(1);
  });

  it("lets the sweep go on when something will carry the job: the step's callbacks, or a frequent sweep", async () => {
    const carried: Carriers[] = [
      { ...NO_CARRIERS, callbacks: new Set(["style"]) },
      { ...NO_CARRIERS, sweepCarries: true },
    ];
    for (const carriers of carried) {
      const run = await AdvanceHarness.start({ carriers });
      try {
        await run.createJob();
        await run.advanceWhenDue({ watcher: "person" });
        run.time += 30 * MINUTE;
        await sweepDueJobs(run.deps, { limit: 10, budgetMs: 10_000, now: () => run.time });
        expect((await run.read()).current?.taskId).toBe("style-task-1");
      } finally {
        await run.close();
      }
    }
  });

  it("lets the sweep submit for a job watched a moment ago", async () => {
    await h.createJob();
    await h.advanceWhenDue({ watcher: "person" });
    h.time += MINUTE;
    await sweep();
    expect((await h.read()).current?.taskId).toBe("style-task-1");
  });

  it("counts callbacks and a sweep every 10 minutes or less as carriers; a daily cron does not", () => {
    // CALLBACK_SECRET signs Kling's and Replicate's callback URLs (edges); where it is not a setting yet, it is ignored.
    const base = { PUBLIC_BASE_URL: "https://style.example.com", CALLBACK_SECRET: "c".repeat(40) };
    const vendors = {
      OPENAI_API_KEY: "k",
      KLING_ACCESS_KEY: "a",
      KLING_SECRET_KEY: "s",
      REPLICATE_API_TOKEN: "r",
    };
    expect(carriersFrom(parseConfig({}))).toMatchObject({ sweepCarries: false, unwatchedAfterMs: 180_000 });
    expect([...carriersFrom(parseConfig({})).callbacks]).toEqual([]);
    expect([...carriersFrom(parseConfig({ ...base, ...vendors })).callbacks]).toEqual(["style", "tryon"]);
    const all = parseConfig({
      ...base,
      ...vendors,
      OPENAI_WEBHOOK_SECRET: "whsec_a",
      REPLICATE_WEBHOOK_SECRET: "whsec_b",
    });
    expect([...carriersFrom(all).callbacks].sort()).toEqual(["advice", "faceswap", "style", "tryon"]);
    // Callback secrets without the vendor's keys carry nothing: those steps run offline.
    expect([...carriersFrom(parseConfig({ ...base, OPENAI_WEBHOOK_SECRET: "w" })).callbacks]).toEqual([]);
    const cron = { CRON_SECRET: "0123456789abcdef" };
    expect(carriersFrom(parseConfig(cron)).sweepCarries).toBe(false);
    expect(carriersFrom(parseConfig({ ...cron, SWEEP_INTERVAL_SECONDS: "600" })).sweepCarries).toBe(true);
    expect(carriersFrom(parseConfig({ ...cron, SWEEP_INTERVAL_SECONDS: "601" })).sweepCarries).toBe(false);
    expect(carriersFrom(parseConfig({ SWEEP_INTERVAL_SECONDS: "60" })).sweepCarries).toBe(false);
    expect(carriersFrom(parseConfig({ UNWATCHED_AFTER_SECONDS: "5" })).unwatchedAfterMs).toBe(5_000);
  });
});
