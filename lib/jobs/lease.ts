import type { JobStore } from "@/lib/jobs/job-store";
import { logEvent } from "@/lib/log";

/** A task id a vendor returned whose write did not reach the store. */
export interface AcceptedTask {
  idempotencyKey: string;
  taskId: string;
}

/**
 * What one process remembers between advances, per store instance (one per process in the app, one
 * per simulated process in tests): what a store blip kept it from writing.
 */
interface ProcessMemory {
  /** Leases whose release failed (jobId → token): released before this process's next advance. */
  unreleased: Map<string, string>;
  /** Task ids whose write failed (jobId → task): adopted by this process's next advance of the job. */
  accepted: Map<string, AcceptedTask>;
}

/** Enough for every job one instance can touch while its store is down; the oldest go first. */
const MAX_REMEMBERED = 1_000;
/** Remembered leases released per advance, so one call never turns into a long cleanup. */
const RELEASES_PER_CALL = 20;

const memories = new WeakMap<JobStore, ProcessMemory>();

export function memoryOf(store: JobStore): ProcessMemory {
  let memory = memories.get(store);
  if (!memory) {
    memory = { unreleased: new Map(), accepted: new Map() };
    memories.set(store, memory);
  }
  return memory;
}

export function remember<T>(map: Map<string, T>, key: string, value: T): void {
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= MAX_REMEMBERED) break;
    map.delete(oldest);
  }
}

/** Releases leases whose release failed earlier, now that the store answers; keeps those that fail again. */
export async function releaseRemembered(store: JobStore): Promise<void> {
  const { unreleased } = memoryOf(store);
  for (const [jobId, token] of [...unreleased].slice(0, RELEASES_PER_CALL)) {
    try {
      await store.releaseLease(jobId, token);
      unreleased.delete(jobId);
      logEvent("lease.released_late", { jobId });
    } catch {
      return;
    }
  }
}

/**
 * The job's lease as this advance holds it: when it ends by our own clock (measured from before each
 * store call, so never later than the store's), renewed before each vendor call.
 */
export class Lease {
  private endsAt: number;

  constructor(
    private readonly store: JobStore,
    readonly jobId: string,
    readonly token: string,
    private readonly ttlMs: number,
    private readonly now: () => number,
    takenAt: number,
  ) {
    this.endsAt = takenAt + ttlMs;
  }

  /** Extends the lease to a full term; false when it is no longer ours (it expired, or another took it). */
  async renew(): Promise<boolean> {
    const at = this.now();
    const renewed = await this.store.renewLease(this.jobId, this.token, this.ttlMs);
    if (renewed) this.endsAt = at + this.ttlMs;
    return renewed;
  }

  leftMs(): number {
    return this.endsAt - this.now();
  }

  /** Best effort: a release that fails is remembered and retried by this process's next advance. */
  async release(): Promise<void> {
    try {
      await this.store.releaseLease(this.jobId, this.token);
    } catch (error) {
      remember(memoryOf(this.store).unreleased, this.jobId, this.token);
      logEvent("lease.release_failed", { jobId: this.jobId, error });
    }
  }
}
