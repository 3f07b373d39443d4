import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AdvanceDeps, advance } from "@/lib/jobs/advance";
import { MAX_CREATES_PER_JOB, MAX_CREATES_PER_STEP, worstCaseCreates } from "@/lib/jobs/create-budget";
import { isTerminal, type StoredJob } from "@/lib/jobs/job";
import type { JobStore } from "@/lib/jobs/job-store";
import { PIPELINE } from "@/lib/jobs/pipeline";
import { ProviderError } from "@/lib/providers/types";
import { AdvanceHarness, JOB_ID } from "@/tests/support/advance-harness";
import {
  allOf,
  LostAnswer,
  refused,
  type ScriptedProvider,
  type ScriptedProviders,
  taskMissing,
  unknownOutcome,
} from "@/tests/support/scripted-provider";

/** The numbers README.md and docs/reliability.md state. */
const STATED = { perVendor: { openai: 5, kling: 9, replicate: 5 }, perLook: 10 };

let h: AdvanceHarness;
let providers: ScriptedProviders;

beforeEach(async () => {
  h = await AdvanceHarness.start();
  providers = h.providers;
});

afterEach(async () => {
  await h.close();
});

const transientTaskFailure = () => ({
  state: "failed" as const,
  error: new ProviderError("transient", "The service had a hiccup."),
});

/** Calls per vendor, from the scripted providers (each is one pipeline step). */
function callsByVendor(p: ScriptedProviders): Record<string, number> {
  const byVendor: Record<string, number> = {};
  for (const [i, provider] of allOf(p).entries()) {
    const vendor = PIPELINE[i]?.vendor ?? "?";
    byVendor[vendor] = (byVendor[vendor] ?? 0) + provider.calls;
  }
  return byVendor;
}

/** A process whose next write dies with it once `armed` says so (a crash right after a vendor accepted). */
function crashingProcess(armed: { crash: boolean }): AdvanceDeps {
  const deps = h.newProcess();
  const store: JobStore = deps.store;
  const real = store.compareAndSet.bind(store);
  store.compareAndSet = async (job, version) => {
    if (armed.crash) {
      armed.crash = false;
      throw new Error("process killed");
    }
    return real(job, version);
  };
  return deps;
}

/** Advances (from a fresh process after every crash) until the job ends. */
async function runThroughCrashes(armed: { crash: boolean }, limit = 400): Promise<StoredJob> {
  let deps = crashingProcess(armed);
  for (let i = 0; i < limit; i++) {
    const job = await h.read();
    if (isTerminal(job.status)) return job;
    if (job.nextCheckAt > h.time) h.time = job.nextCheckAt;
    try {
      await advance(JOB_ID, deps);
    } catch (error) {
      if (!(error instanceof Error) || error.message !== "process killed") throw error;
      deps = crashingProcess(armed);
    }
  }
  throw new Error("the job did not end");
}

describe("the worst-case number of paid creates per look", () => {
  it("is what the README states: 5 at OpenAI, 9 at Kling, 5 at Replicate, 10 in all", () => {
    expect(worstCaseCreates(PIPELINE)).toEqual(STATED);
    for (const step of PIPELINE) expect(MAX_CREATES_PER_STEP).toBeGreaterThanOrEqual(step.retry.maxFailures);
  });

  it("reaches 5 at OpenAI only with a crash: three refusals, an answer lost with its process, one blind repeat", async () => {
    await h.createJob();
    const armed = { crash: false };
    providers.advice.onSubmit(refused(), refused(), refused(), "ok");
    providers.advice.duringSubmit = () => {
      armed.crash = providers.advice.calls === 4;
    };
    const job = await runThroughCrashes(armed);
    expect(job.status).toBe("completed");
    expect(providers.advice.calls).toBe(STATED.perVendor.openai);
    expect(job.creates).toBe(8);
  });

  it("reaches 9 at Kling and 10 in all, then refuses the next create with a readable sentence", async () => {
    await h.createJob();
    const fails4 = (p: ScriptedProvider<unknown, unknown>) =>
      p.onCheck(...Array.from({ length: 4 }, transientTaskFailure), { state: "succeeded", output: p.output });
    fails4(providers.style);
    providers.tryon.onCheck(transientTaskFailure());
    const job = await h.runToEnd();
    expect(job.status).toBe("failed");
    expect(job.error).toBe("This look needed too many tries, so we stopped it. Please try again later.");
    expect(callsByVendor(providers)).toEqual({ openai: 1, kling: STATED.perVendor.kling, replicate: 0 });
    expect(job.creates).toBe(MAX_CREATES_PER_JOB);
  });

  it("reaches 5 at Replicate, and one step never creates a sixth time", async () => {
    await h.createJob();
    const armed = { crash: false };
    // Every face-swap answer dies with its process; the vendor's lookup never finds the task.
    providers.faceswap.findTask = async () => null;
    providers.faceswap.duringSubmit = () => {
      armed.crash = true;
    };
    const job = await runThroughCrashes(armed);
    expect(job.status).toBe("failed");
    expect(job.error).toBe(
      "Adding the finishing touches was stopped after too many tries. Please try again later.",
    );
    expect(providers.faceswap.calls).toBe(STATED.perVendor.replicate);
  });

  it("holds against a hundred random adversaries: lost answers, crashes, refusals, 404s, failures", async () => {
    const bound = worstCaseCreates(PIPELINE);
    for (let seed = 1; seed <= 100; seed++) {
      await h.close();
      h = await AdvanceHarness.start();
      providers = h.providers;
      await h.createJob();
      const random = mulberry32(seed);
      const armed = { crash: false };
      playAdversary(providers.advice, random, armed);
      playAdversary(providers.style, random, armed);
      playAdversary(providers.tryon, random, armed);
      playAdversary(providers.faceswap, random, armed);
      const job = await runThroughCrashes(armed);
      const byVendor = callsByVendor(providers);
      const context = `seed ${seed}: ${JSON.stringify(byVendor)} → ${job.status} (${job.error})`;
      for (const [vendor, calls] of Object.entries(byVendor)) {
        expect(calls, context).toBeLessThanOrEqual(bound.perVendor[vendor] ?? 0);
      }
      for (const provider of allOf(providers))
        expect(provider.calls, context).toBeLessThanOrEqual(MAX_CREATES_PER_STEP);
      const total = allOf(providers).reduce((sum, p) => sum + p.calls, 0);
      expect(total, context).toBeLessThanOrEqual(bound.perLook);
      // Every create was counted in the record before it was made.
      expect(job.creates, context).toBe(total);
    }
  }, 120_000);
});

/**
 * Makes a provider hostile at random: it may or may not have a lookup, and every create and check
 * answers any way the contract allows, including a process dying right after the vendor accepted.
 */
function playAdversary<In, Out>(
  provider: ScriptedProvider<In, Out>,
  random: () => number,
  armed: { crash: boolean },
): void {
  const lookup = random();
  if (lookup < 0.5) provider.withTaskLookup();
  const answer = provider.findTask;
  if (lookup < 0.2 && answer) {
    // A lookup that sometimes cannot tell (as Replicate's, for creates without a webhook).
    provider.findTask = async (key, ctx) => {
      if (random() < 0.5) throw new ProviderError("transient", "The service had a hiccup.");
      return answer(key, ctx);
    };
  }
  provider.decideSubmits(() => {
    const roll = random();
    if (roll < 0.12) armed.crash = true; // accepted, then the process dies
    if (roll < 0.45) return "ok";
    if (roll < 0.6) return refused();
    if (roll < 0.8) return unknownOutcome();
    return new LostAnswer();
  });
  provider.decideChecks(() => {
    if (random() < 0.05) armed.crash = true; // the process dies before it writes what it saw
    const roll = random();
    if (roll < 0.3) return { state: "running" };
    if (roll < 0.65) return { state: "succeeded", output: provider.output };
    if (roll < 0.8) return transientTaskFailure();
    if (roll < 0.9) return taskMissing();
    if (roll < 0.92)
      return { state: "failed", error: new ProviderError("permanent", "The photo cannot be used.") };
    return new ProviderError("transient", "The service is slow.");
  });
}

/** A small seeded generator, so a failing adversary can be replayed by its seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
