import { describe, expect, it } from "vitest";
import {
  aimMs,
  checkAfterRunning,
  FOUND_DONE_AT_FIRST_SHARE,
  firstCheckAt,
  MIN_CHECK_INTERVAL_MS,
  sampleOf,
} from "@/lib/jobs/check-schedule";
import type { JobStore } from "@/lib/jobs/job-store";
import { estimateFrom, SAMPLES_KEPT, StepTimes, seriesOf } from "@/lib/jobs/step-timing";

const T = 1_700_000_000_000;

describe("the step-time estimator", () => {
  it("answers the vendor's default on a cold start, and says it is not learned", () => {
    expect(estimateFrom([], 25_000)).toEqual({ expectedMs: 25_000, learned: false });
    // Values that cannot be durations are no basis either.
    expect(estimateFrom([0, -5, Number.NaN, 99 * 60 * 60_000], 8_000)).toEqual({
      expectedMs: 8_000,
      learned: false,
    });
  });

  it("follows even one sample, so a vendor far from its default is learned from the first task", () => {
    expect(estimateFrom([2_000], 25_000)).toEqual({ expectedMs: 2_000, learned: true });
    expect(estimateFrom([2_000, 3_000], 25_000).expectedMs).toBe(2_500);
  });

  it("is the median, untouched by a stray slow or fast task", () => {
    const steady = [2_000, 2_100, 1_900, 2_050, 1_950, 2_000, 2_020, 1_980];
    expect(estimateFrom([...steady, 60_000], 25_000).expectedMs).toBeGreaterThanOrEqual(1_980);
    expect(estimateFrom([...steady, 60_000], 25_000).expectedMs).toBeLessThanOrEqual(2_020);
    expect(estimateFrom([...steady, 60_000, 55_000, 10], 25_000).expectedMs).toBeLessThanOrEqual(2_050);
  });

  it("names one series per step, provider and model", () => {
    expect(seriesOf("style", { name: "kling-style", model: "kling-v1-5" })).toBe(
      "step-ms:style:kling-style:kling-v1-5",
    );
    expect(seriesOf("advice", { name: "local-advice" })).toBe("step-ms:advice:local-advice");
  });
});

/** A store that holds sample series in memory and counts its reads; `failing` makes every call throw. */
function sampleStore(failing = false) {
  const series = new Map<string, number[]>();
  let reads = 0;
  const store = {
    async readSamples(name: string) {
      reads++;
      if (failing) throw new Error("store down");
      return [...(series.get(name) ?? [])];
    },
    async addSample(name: string, value: number, { keep }: { keep: number }) {
      if (failing) throw new Error("store down");
      series.set(name, [value, ...(series.get(name) ?? [])].slice(0, keep));
    },
  } as unknown as JobStore;
  return { store, series, reads: () => reads };
}

describe("StepTimes, one process's view of the learned times", () => {
  it("reads a series once per cache period, and shows its own additions at once", async () => {
    let clock = T;
    const { store, series, reads } = sampleStore();
    series.set("s", [4_000]);
    const times = new StepTimes(store, () => clock);
    expect(await times.expect("s", 9_000)).toEqual({ expectedMs: 4_000, learned: true });
    await times.record("s", 2_000);
    await times.record("s", 2_000);
    expect((await times.expect("s", 9_000)).expectedMs).toBe(2_000);
    expect(reads()).toBe(1);
    // Another instance's additions arrive when the cache period is over.
    series.set("s", [7_000, 7_000, 7_000]);
    clock += 60_000;
    expect((await times.expect("s", 9_000)).expectedMs).toBe(7_000);
    expect(reads()).toBe(2);
  });

  it("keeps at most SAMPLES_KEPT values and refuses nonsense durations", async () => {
    const { store, series } = sampleStore();
    const times = new StepTimes(store);
    for (let i = 0; i < SAMPLES_KEPT + 5; i++) await times.record("s", 1_000 + i);
    await times.record("s", -1);
    await times.record("s", Number.POSITIVE_INFINITY);
    expect(series.get("s")).toHaveLength(SAMPLES_KEPT);
    expect(series.get("s")?.[0]).toBe(1_000 + SAMPLES_KEPT + 4);
  });

  it("answers the default when the store cannot answer, and never throws on a write", async () => {
    const times = new StepTimes(sampleStore(true).store);
    expect(await times.expect("s", 8_000)).toEqual({ expectedMs: 8_000, learned: false });
    await expect(times.record("s", 1_000)).resolves.toBeUndefined();
  });
});

describe("when a task is checked", () => {
  const learned = { expectedMs: 10_000, learned: true } as const;

  it("aims the first check a little after the expected end", () => {
    expect(aimMs(10_000)).toBe(10_300);
    expect(aimMs(1_000)).toBe(1_100);
    expect(firstCheckAt(learned, T, T + 200, 1_500)).toBe(T + 10_300);
  });

  it("follows the provider's hint on a cold start", () => {
    expect(firstCheckAt({ expectedMs: 25_000, learned: false }, T, T + 200, 3_000)).toBe(T + 3_200);
    expect(firstCheckAt({ expectedMs: null, learned: false }, T, T, 10)).toBe(T + MIN_CHECK_INTERVAL_MS);
  });

  it("after a miss, checks at short intervals that grow, never sparser than the hint", () => {
    const at = (runningChecks: number, now: number) =>
      checkAfterRunning({ ...learned, sentAt: T, runningChecks }, now, 3_000) - now;
    const aimAt = T + 10_300;
    expect([1, 2, 3, 4, 5, 9].map((n) => at(n, aimAt))).toEqual([500, 650, 845, 1_099, 1_428, 3_000]);
    // A small expectation still waits at least the minimum interval.
    expect(
      checkAfterRunning({ expectedMs: 1_000, learned: true, sentAt: T, runningChecks: 1 }, T + 1_100, 3_000),
    ).toBe(T + 1_100 + MIN_CHECK_INTERVAL_MS);
  });

  it("keeps the aim when a check came early (a callback's nudge)", () => {
    expect(checkAfterRunning({ ...learned, sentAt: T, runningChecks: 1 }, T + 2_000, 3_000)).toBe(T + 10_300);
  });

  it("on a cold start, keeps checking at the provider's hint", () => {
    expect(
      checkAfterRunning({ expectedMs: 8_000, learned: false, sentAt: T, runningChecks: 3 }, T + 5_000, 1_500),
    ).toBe(T + 6_500);
  });

  it("learns a duration from each finished task, corrected for a late first check", () => {
    // Found done at its first, aimed check: it ended some time before.
    expect(sampleOf({ sentAt: T, lastRunningAt: null, learned: true }, T + 10_000)).toBe(
      10_000 * FOUND_DONE_AT_FIRST_SHARE,
    );
    // Found done at a cold start's first check (the provider's hint): it ended any time since the create.
    expect(sampleOf({ sentAt: T, lastRunningAt: null, learned: false }, T + 10_000)).toBe(5_000);
    // Seen running, then done: it ended between the two.
    expect(sampleOf({ sentAt: T, lastRunningAt: T + 9_000, learned: true }, T + 10_000)).toBe(9_500);
    // A record from before learning knows no create time.
    expect(sampleOf({ sentAt: null, lastRunningAt: null, learned: false }, T + 10_000)).toBeNull();
  });
});
