import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreUnavailableError } from "@/lib/failures";
import { type AdvanceDeps, advance } from "@/lib/jobs/advance";
import type { JobStore } from "@/lib/jobs/job-store";
import {
  COMMIT_ALLOWANCE_MS,
  DEFAULT_CREATE_TIMEOUT_MS,
  leaseNeededFor,
  RENEWAL_ALLOWANCE_MS,
} from "@/lib/time-budget";
import { AdvanceHarness, JOB_ID } from "@/tests/support/advance-harness";
import type { ScriptedProviders } from "@/tests/support/scripted-provider";

let h: AdvanceHarness;
let providers: ScriptedProviders;

beforeEach(async () => {
  h = await AdvanceHarness.start();
  providers = h.providers;
});

afterEach(async () => {
  await h.close();
});

const down = () => new StoreUnavailableError(new Error("ECONNREFUSED"));

/** Wraps one store method of `store`; returns a function that puts the real one back. */
function intercept<K extends "compareAndSet" | "renewLease" | "releaseLease">(
  store: JobStore,
  method: K,
  replacement: (real: JobStore[K]) => JobStore[K],
): () => void {
  const real = store[method].bind(store) as JobStore[K];
  store[method] = replacement(real);
  return () => {
    store[method] = real;
  };
}

describe("leases are fenced", () => {
  it("renews the lease right before every vendor call", async () => {
    await h.createJob();
    const order: string[] = [];
    intercept(h.store, "renewLease", (real) => (...args) => {
      order.push("renew");
      return real(...args);
    });
    const note = (what: string) => () => {
      order.push(what);
    };
    providers.advice.duringSubmit = note("submit");
    const realCheck = providers.advice.check.bind(providers.advice);
    providers.advice.check = async (taskId, ctx) => {
      order.push("check");
      return realCheck(taskId, ctx);
    };
    await h.advanceWhenDue(); // submit
    await h.advanceWhenDue(); // check, then the next step's submit
    expect(order.slice(0, 4)).toEqual(["renew", "submit", "renew", "check"]);
    for (const [i, call] of order.entries()) if (call !== "renew") expect(order[i - 1]).toBe("renew");
  });

  it("starts no vendor call once the lease is lost", async () => {
    await h.createJob();
    intercept(h.store, "renewLease", () => async () => false);
    const job = await advance(JOB_ID, h.deps);
    expect(job?.version).toBe(0);
    expect(providers.advice.calls).toBe(0);
  });

  it("starts no create without lease left for its timeout and two commits; checks still run", async () => {
    await h.createJob();
    await h.advanceWhenDue(); // advice submitted with the default lease
    const short: AdvanceDeps = { ...h.deps, leaseMs: 30_000 };
    const job = await h.advanceWhenDue({}, short);
    // The check and the copy of its result fit in 30 s; the style create (45 s) does not.
    expect(job.status).toBe("processing-style");
    expect(job.artifacts.advice).toBeDefined();
    expect(providers.style.calls).toBe(0);
    expect(job.current).toMatchObject({ submittingAt: null, creates: 0 });
    await h.advanceWhenDue();
    expect(providers.style.calls).toBe(1);
  });

  it("counts the renewal's own round trip: a slow one leaves too little for a create", async () => {
    await h.createJob();
    let renewalMs = RENEWAL_ALLOWANCE_MS + 1;
    intercept(h.store, "renewLease", (real) => async (...args) => {
      const renewed = await real(...args);
      h.time += renewalMs;
      return renewed;
    });
    expect((await advance(JOB_ID, h.deps))?.current?.taskId).toBeNull();
    expect(providers.advice.calls).toBe(0);
    renewalMs = 300;
    expect((await advance(JOB_ID, h.deps))?.current?.taskId).toBe("advice-task-1");
  });

  it("starts no vendor call that could not end before the invocation does (stopBy)", async () => {
    await h.createJob();
    const tooSoon = await advance(JOB_ID, h.deps, { stopBy: h.time + 50_000 });
    expect(tooSoon?.version).toBe(0);
    expect(providers.advice.calls).toBe(0);
    const inTime = await advance(JOB_ID, h.deps, { stopBy: h.time + 56_000 });
    expect(inTime?.current?.taskId).toBe("advice-task-1");
  });

  it("releases, on its next good call, a lease whose release failed", async () => {
    await h.createJob();
    providers.advice.onCheck({ state: "running", nextCheckInMs: 1_000 });
    const restore = intercept(h.store, "releaseLease", () => async () => {
      throw down();
    });
    const submitted = await h.advanceWhenDue(); // submits; the release fails and is remembered
    restore();
    // Another process still finds the lease taken: the store never heard of the release.
    h.time = submitted.nextCheckAt;
    expect((await advance(JOB_ID, h.newProcess()))?.version).toBe(submitted.version);
    expect(providers.advice.checks).toHaveLength(0);
    // This process releases it first, then takes the job on.
    await h.advanceWhenDue();
    expect(providers.advice.checks).toHaveLength(1);
    expect(await h.store.acquireLease(JOB_ID, "probe", 1_000)).not.toBeNull();
  });
});

describe("a task id survives a store blip", () => {
  it("retries the write of an accepted create with short waits, and creates once", async () => {
    await h.createJob();
    let refusals = 0;
    providers.advice.duringSubmit = () => {
      refusals = 3; // the store goes away right after the vendor accepted
    };
    intercept(h.store, "compareAndSet", (real) => async (job, version) => {
      if (refusals > 0) {
        refusals--;
        throw down();
      }
      return real(job, version);
    });
    const started = h.time;
    const job = await advance(JOB_ID, h.deps);
    expect(job?.current?.taskId).toBe("advice-task-1");
    expect(h.time - started).toBe(250 + 500 + 1_000);
    expect(providers.advice.calls).toBe(1);
  });

  it("keeps the id in the process past the lease, and the next advance adopts it without a create", async () => {
    await h.createJob();
    let storeDown = false;
    providers.advice.duringSubmit = () => {
      storeDown = true;
    };
    const restore = intercept(h.store, "compareAndSet", (real) => async (job, version) => {
      if (storeDown) throw down();
      return real(job, version);
    });
    const started = h.time;
    await expect(advance(JOB_ID, h.deps)).rejects.toBeInstanceOf(StoreUnavailableError);
    // It kept trying for as long as the lease allowed, and no longer.
    const lease = leaseNeededFor(DEFAULT_CREATE_TIMEOUT_MS);
    expect(h.time - started).toBeGreaterThan(lease - 2 * COMMIT_ALLOWANCE_MS);
    expect(h.time - started).toBeLessThanOrEqual(lease - COMMIT_ALLOWANCE_MS);
    restore();
    storeDown = false;
    const job = await h.advanceWhenDue();
    expect(job.current?.taskId).toBe("advice-task-1");
    expect(providers.advice.calls).toBe(1);
  });
});

describe("creates and checks get their own signals", () => {
  it("gives a create the longer timeout and a check the shorter one", async () => {
    const timed = await AdvanceHarness.start({
      now: Date.now,
      createTimeoutMs: 400,
      providerTimeoutMs: 100,
      leaseMs: 60_000,
    });
    try {
      timed.time = Date.now(); // the job's clock starts on the real one
      await timed.createJob();
      const seen: Record<string, boolean> = {};
      timed.providers.advice.duringSubmit = async () => {
        await sleep(200);
        seen.submitAbortedAt200 = timed.providers.advice.lastSubmitSignal?.aborted ?? true;
      };
      await advance(JOB_ID, timed.deps);
      const realCheck = timed.providers.advice.check.bind(timed.providers.advice);
      timed.providers.advice.check = async (taskId, ctx) => {
        await sleep(200);
        seen.checkAbortedAt200 = ctx.signal.aborted;
        return realCheck(taskId, ctx);
      };
      await advance(JOB_ID, timed.deps, { ignoreSchedule: true });
      expect(seen).toEqual({ submitAbortedAt200: false, checkAbortedAt200: true });
    } finally {
      await timed.close();
    }
  });
});
