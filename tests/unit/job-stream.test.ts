import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nudgeJob } from "@/lib/callbacks/nudge-job";
import type { JobStore } from "@/lib/jobs/job-store";
import { freshStep } from "@/lib/jobs/transitions";
import { publicJobSchema } from "@/lib/public-job";
import { encodeFrame, parseLastEventId, type StreamFrame } from "@/lib/streams/event-format";
import { jobSignalListeners, signalJob } from "@/lib/streams/job-signals";
import {
  type JobStreamOptions,
  jobStreamFrames,
  REAL_CLOCK,
  type StreamClock,
} from "@/lib/streams/job-stream";
import { AdvanceHarness, JOB_ID } from "@/tests/support/advance-harness";

let harness: AdvanceHarness;
beforeEach(async () => {
  harness = await AdvanceHarness.start();
});
afterEach(async () => harness.close());

/** The harness's fake clock: a sleep moves it on at once (a wake has nothing to cut short). */
function fakeClock(): StreamClock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => harness.time,
    sleep: async (ms) => {
      sleeps.push(ms);
      harness.time += ms;
    },
  };
}

/** Counts the store reads a stream makes. */
function countingReads(store: JobStore): { store: JobStore; reads: () => number } {
  let reads = 0;
  const counted: JobStore = Object.create(store);
  counted.get = (...args) => {
    reads++;
    return store.get(...args);
  };
  return { store: counted, reads: () => reads };
}

async function options(patch: Partial<JobStreamOptions> = {}): Promise<JobStreamOptions> {
  return {
    jobId: JOB_ID,
    deps: harness.deps,
    first: await harness.read(),
    ownerHash: null,
    lastEventId: null,
    stopBy: harness.time + 117_000,
    closeAt: harness.time + 110_000,
    signal: new AbortController().signal,
    clock: fakeClock(),
    ...patch,
  };
}

async function collect(frames: AsyncGenerator<StreamFrame>): Promise<StreamFrame[]> {
  const all: StreamFrame[] = [];
  for await (const frame of frames) all.push(frame);
  return all;
}

const jobsOf = (frames: StreamFrame[]) =>
  frames.flatMap((frame) =>
    frame.kind === "job" ? [{ id: frame.id, job: publicJobSchema.parse(frame.data) }] : [],
  );

describe("a job's event stream", () => {
  it("sends the job at once and on every change, with increasing ids, and ends after completed", async () => {
    await harness.createJob();
    harness.providers.style.onCheck(
      { state: "running" },
      { state: "running" },
      {
        state: "succeeded",
        output: harness.providers.style.output,
      },
    );
    const frames = await collect(jobStreamFrames(await options()));
    expect(frames.slice(0, 2).map((frame) => frame.kind)).toEqual(["retry", "clock"]);
    const jobs = jobsOf(frames);
    expect(jobs[0]?.job.status).toBe("pending");
    const ids = jobs.map(({ id }) => id);
    expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
    expect(jobs.map(({ job }) => job.status)).toEqual(
      expect.arrayContaining([
        "pending",
        "processing-style",
        "processing-tryon",
        "processing-faceswap",
        "completed",
      ]),
    );
    expect(frames.at(-1)).toMatchObject({ kind: "job" });
    expect(jobs.at(-1)?.job.status).toBe("completed");
    expect(jobs.at(-1)?.id).toBe((await harness.read()).version);
    // The stream itself advanced the job: each vendor got one create.
    for (const provider of Object.values(harness.providers)) expect(provider.submits).toHaveLength(1);
    expect(jobSignalListeners(JOB_ID)).toBe(0);
  });

  it("resumed after an id, sends nothing at or below it", async () => {
    await harness.createJob();
    const firstRun = jobsOf(await collect(jobStreamFrames(await options())));
    const middle = firstRun[2]?.id ?? -1;
    expect(middle).toBeGreaterThan(0);
    const resumed = jobsOf(await collect(jobStreamFrames(await options({ lastEventId: middle }))));
    expect(resumed).toHaveLength(1); // the job is finished: only what came after `middle`
    expect(resumed[0]?.id).toBeGreaterThan(middle);
    const caughtUp = jobsOf(
      await collect(jobStreamFrames(await options({ lastEventId: resumed[0]?.id ?? 0 }))),
    );
    expect(caughtUp).toEqual([]);
  });

  it("treats a last id beyond the record's history as unknown and sends the job", async () => {
    await harness.createJob();
    const frames = jobsOf(await collect(jobStreamFrames(await options({ lastEventId: 10_000 }))));
    expect(frames[0]?.job.status).toBe("pending");
  });

  it("waits for the task's next check rather than re-reading, and reads at most every re-read interval", async () => {
    await harness.createJob();
    harness.providers.advice.onCheck({ state: "running" });
    const counted = countingReads(harness.store);
    const clock = fakeClock();
    const frames = await collect(
      jobStreamFrames(
        await options({
          deps: { ...harness.deps, store: counted.store },
          clock,
          closeAt: harness.time + 60_000,
        }),
      ),
    );
    // 60 s of a running task, checked every 2 s (the advice step's interval): about one read per wake.
    expect(clock.sleeps.length).toBeLessThanOrEqual(35);
    expect(counted.reads()).toBeLessThanOrEqual(clock.sleeps.length + 5);
    // No busy loop: short sleeps only where a heartbeat or the close cut a wait.
    expect(clock.sleeps.filter((ms) => ms < 1_000).length).toBeLessThanOrEqual(6);
    // It closed itself at closeAt with a retry hint, not by finishing the job.
    expect(frames.at(-1)).toEqual({ kind: "retry", ms: 1_000 });
    expect(frames.filter((frame) => frame.kind === "heartbeat").length).toBeGreaterThanOrEqual(3);
  });

  it("closes early with a retry hint when a due create could no longer fit in the invocation", async () => {
    await harness.createJob();
    const frames = await collect(jobStreamFrames(await options({ stopBy: harness.time + 20_000 })));
    expect(frames.at(-1)).toEqual({ kind: "retry", ms: 1_000 });
    expect(harness.providers.advice.calls).toBe(0);
  });

  it("stops when the client leaves, leaving no listener behind", async () => {
    await harness.createJob({ nextCheckAt: Date.now() + 60_000 });
    const gone = new AbortController();
    const frames = jobStreamFrames(
      await options({
        clock: REAL_CLOCK,
        signal: gone.signal,
        stopBy: Date.now() + 117_000,
        closeAt: Date.now() + 110_000,
      }),
    );
    const seen: StreamFrame[] = [];
    const done = (async () => {
      for await (const frame of frames) seen.push(frame);
    })();
    await expect.poll(() => seen.some((frame) => frame.kind === "job")).toBe(true);
    expect(jobSignalListeners(JOB_ID)).toBe(1);
    gone.abort();
    await done;
    expect(jobSignalListeners(JOB_ID)).toBe(0);
  });
});

describe("waking a stream", () => {
  /** A stream on the real clock that would otherwise sleep a minute between reads. */
  async function sleepyStream() {
    const gone = new AbortController();
    const frames = jobStreamFrames(
      await options({
        deps: { ...harness.deps, now: Date.now },
        clock: REAL_CLOCK,
        signal: gone.signal,
        rereadMs: 60_000,
        stopBy: Date.now() + 117_000,
        closeAt: Date.now() + 110_000,
      }),
    );
    const seen: Array<{ status: string; at: number }> = [];
    const done = (async () => {
      for await (const frame of frames) {
        if (frame.kind === "job")
          seen.push({ status: publicJobSchema.parse(frame.data).status, at: Date.now() });
      }
    })();
    return { seen, done, stop: () => gone.abort() };
  }

  it("a bell rung for the job makes it send another instance's change at once", async () => {
    harness.time = Date.now();
    await harness.createJob({ nextCheckAt: Date.now() + 60_000 });
    const stream = await sleepyStream();
    await expect.poll(() => stream.seen.length).toBe(1);
    const job = await harness.read();
    const changed = { ...job, occasion: "Changed elsewhere", updatedAt: Date.now() };
    expect(await harness.store.compareAndSet(changed, job.version)).toBeTruthy();
    const rungAt = Date.now();
    signalJob(JOB_ID);
    await expect.poll(() => stream.seen.length, { timeout: 2_000 }).toBe(2);
    expect((stream.seen[1]?.at ?? Infinity) - rungAt).toBeLessThan(1_000);
    stream.stop();
    await stream.done;
  });

  it("a verified callback's nudge wakes it, and it sends the step the callback finished", async () => {
    harness.time = Date.now();
    // The advice task exists and is done; only the callback knows before the next check.
    const current = { ...freshStep(harness.time), taskId: "advice-task-1" };
    await harness.createJob({ nextCheckAt: Date.now() + 60_000, current });
    const stream = await sleepyStream();
    await expect.poll(() => stream.seen.length).toBe(1);
    const nudgedAt = Date.now();
    await nudgeJob({ ...harness.deps, now: Date.now }, async () => JOB_ID, { vendor: "test" });
    await expect
      .poll(() => stream.seen.some(({ status }) => status === "processing-style"), { timeout: 3_000 })
      .toBe(true);
    const styled = stream.seen.find(({ status }) => status === "processing-style");
    expect((styled?.at ?? Infinity) - nudgedAt).toBeLessThan(1_500);
    stream.stop();
    await stream.done;
  });
});

describe("event-stream framing", () => {
  it("writes one job event with its id, and parses Last-Event-ID strictly", () => {
    expect(encodeFrame({ kind: "job", id: 7, data: { a: 1 } })).toBe('id: 7\nevent: job\ndata: {"a":1}\n\n');
    expect(encodeFrame({ kind: "retry", ms: 1000 })).toBe("retry: 1000\n\n");
    expect(encodeFrame({ kind: "heartbeat" })).toBe(": keep-alive\n\n");
    expect(parseLastEventId("12")).toBe(12);
    expect(parseLastEventId(" 3 ")).toBe(3);
    for (const bad of [null, "", "-1", "1.5", "abc", "9".repeat(20)])
      expect(parseLastEventId(bad)).toBeNull();
  });
});
