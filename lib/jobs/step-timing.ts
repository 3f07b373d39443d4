import type { JobStore } from "@/lib/jobs/job-store";
import { logEvent } from "@/lib/log";

/**
 * Learned step times: recent durations of each step's vendor tasks, kept in the job store (one
 * capped sample series per step and provider, shared by every instance) and read through a short
 * per-process cache. They decide when a task is first checked (lib/jobs/check-schedule.ts) and what
 * a person is told (lib/jobs/job-estimate.ts). docs/architecture.md, "Learned step times".
 */

/** Newest durations kept per series: enough for a stable median, few enough to follow a vendor's drift. */
export const SAMPLES_KEPT = 20;
/** A series nobody added to for a week is forgotten: the vendor may have changed since. */
export const SAMPLES_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** How long one process trusts what it read of a series (its own additions show at once). */
export const SAMPLE_CACHE_MS = 10_000;
/** Samples outside (0, MAX] are noise (a clock jump, a task adopted days later) and are not kept. */
const MAX_SAMPLE_MS = 30 * 60 * 1000;
/** Below this many samples the median leans on few tasks; from it on, the extremes are trimmed. */
const TRIM_FROM = 5;
/** Share dropped at each end before the median, from TRIM_FROM samples on (outliers). */
const TRIM_SHARE = 0.2;

/** What is expected of a step's next task. */
export interface StepExpectation {
  /** The task's expected duration (ms), from create sent to done. */
  expectedMs: number;
  /** True when learned from samples; false when it is the cold-start default. */
  learned: boolean;
}

/** The series of one step at one provider (and model): `step-ms:<step>:<provider>[:<model>]`. */
export function seriesOf(step: string, provider: { name: string; model?: string }): string {
  return `step-ms:${step}:${provider.name}${provider.model ? `:${provider.model}` : ""}`;
}

/**
 * The expectation from a series' samples: their median after trimming the extremes (robust to a
 * stray slow or fast task), or `defaultMs` while there are none (a cold start).
 */
export function estimateFrom(samples: readonly number[], defaultMs: number): StepExpectation {
  const usable = samples.filter((value) => Number.isFinite(value) && value > 0 && value <= MAX_SAMPLE_MS);
  if (usable.length === 0) return { expectedMs: defaultMs, learned: false };
  const sorted = [...usable].sort((a, b) => a - b);
  const cut = sorted.length >= TRIM_FROM ? Math.floor(sorted.length * TRIM_SHARE) : 0;
  const kept = sorted.slice(cut, sorted.length - cut);
  const mid = Math.floor(kept.length / 2);
  const median = kept.length % 2 ? (kept[mid] ?? defaultMs) : ((kept[mid - 1] ?? 0) + (kept[mid] ?? 0)) / 2;
  return { expectedMs: Math.round(median), learned: true };
}

interface CachedSeries {
  samples: number[];
  readAt: number;
}

/** One process's view of the learned times of one store. */
export class StepTimes {
  private readonly cache = new Map<string, CachedSeries>();

  constructor(
    private readonly store: JobStore,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The series' samples, newest first: from the cache when fresh, else one store read. */
  async samples(series: string): Promise<number[]> {
    const cached = this.cache.get(series);
    if (cached && this.clock() - cached.readAt < SAMPLE_CACHE_MS) return cached.samples;
    const samples = await this.store.readSamples(series);
    this.cache.set(series, { samples, readAt: this.clock() });
    return samples;
  }

  /**
   * What to expect of the series' next task. A store that cannot answer gives the default: an
   * estimate must never stop a job.
   */
  async expect(series: string, defaultMs: number): Promise<StepExpectation> {
    try {
      return estimateFrom(await this.samples(series), defaultMs);
    } catch (error) {
      logEvent("step_times.read_failed", { series, error });
      return { expectedMs: defaultMs, learned: false };
    }
  }

  /** Adds a finished task's duration, here at once and in the store for every instance; best effort. */
  async record(series: string, durationMs: number): Promise<void> {
    if (!(durationMs > 0 && durationMs <= MAX_SAMPLE_MS)) return;
    const value = Math.round(durationMs);
    const cached = this.cache.get(series);
    if (cached) cached.samples = [value, ...cached.samples].slice(0, SAMPLES_KEPT);
    try {
      await this.store.addSample(series, value, { keep: SAMPLES_KEPT, ttlMs: SAMPLES_TTL_MS });
    } catch (error) {
      logEvent("step_times.write_failed", { series, error });
    }
  }
}

const perStore = new WeakMap<JobStore, StepTimes>();

/** The learned times of a store, one cache per store instance (one per process in the app). */
export function stepTimesOf(store: JobStore): StepTimes {
  let times = perStore.get(store);
  if (!times) {
    times = new StepTimes(store);
    perStore.set(store, times);
  }
  return times;
}
