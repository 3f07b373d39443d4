import path from "node:path";
import { describe, it } from "vitest";
import { jobCodec } from "@/lib/jobs/job-store";
import { PIPELINE } from "@/lib/jobs/pipeline";
import { createSqliteStore } from "@/lib/store/sqlite";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import {
  colour,
  expectReadableSentence,
  type PolledJob,
  pollRecording,
  report,
  sleep,
} from "@/tests/support/hostile";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { getStatus, startJobOver } from "@/tests/support/poll";
import { klingTasksByExternalId, ledgerOf, type StepLedger } from "@/tests/support/vendor-ledger";

/** The status route's budget (POLL_BUDGET_MS) plus what one request costs on a loaded machine. */
const POLL_ANSWER_LIMIT_MS = 8_500;
const TASK_MS = 300;

interface Scenario {
  vendors: VendorEmulators;
  app: AppServer;
  /** Starts one job (its own garment colour) and polls it to its end. */
  run(i: number): Promise<PolledJob & { jobId: string }>;
  ledger(jobId: string): Promise<StepLedger>;
}

/** Each scenario gets its own emulators and app, so their scripted faults cannot meet. */
async function withScenario<T>(work: (scenario: Scenario) => Promise<T>): Promise<T> {
  const vendors = await startVendorEmulators(TASK_MS);
  const app = await startApp(vendors.env);
  const person = await personPhoto();
  const scenario: Scenario = {
    vendors,
    app,
    async run(i) {
      const form = startForm({ person, garment: await garmentPhoto(colour(i)), occasion: `Faults ${i}` });
      const jobId = await startJobOver(app.url, form);
      return { jobId, ...(await pollRecording(app.url, jobId)) };
    },
    async ledger(jobId) {
      const store = createSqliteStore({
        codec: jobCodec,
        file: path.join(app.dataDir, "jobs.db"),
        ttlSeconds: 3600,
      });
      try {
        const stored = await store.get(jobId);
        if (!stored) throw new Error(`job ${jobId} is gone from the store`);
        return await ledgerOf(vendors, stored, app.dataDir, await klingTasksByExternalId(vendors));
      } finally {
        await store.close();
      }
    },
  };
  try {
    return await work(scenario);
  } finally {
    await app.stop();
    await vendors.close();
  }
}

const ONE_TASK_EACH = { advice: 1, style: 1, tryon: 1, faceswap: 1 };

describe.concurrent("provider faults through the vendor emulators", () => {
  it("weathers a 429 with Retry-After, a 5xx burst and malformed answers, paying once per step", async ({
    expect,
  }) => {
    await withScenario(async ({ vendors, run, ledger }) => {
      vendors.openai.faults.push(
        { on: "create", kind: "http", status: 429, headers: { "retry-after": "2" } },
        { on: "get", kind: "malformed" },
      );
      vendors.kling.faults.push(
        { on: "create", match: "generations", kind: "http", status: 500, code: 5000 },
        { on: "create", match: "generations", kind: "http", status: 503, code: 5001 },
        // A malformed create answer: Kling made the task, we cannot read its id.
        { on: "create", match: "kolors", kind: "malformed" },
        { on: "query", match: "kolors", kind: "malformed" },
      );
      const started = Date.now();
      const { jobId, final, latenciesMs } = await run(1);
      expect(final.status, final.error ?? "").toBe("completed");
      expect(vendors.openai.faults).toEqual([]);
      expect(vendors.kling.faults).toEqual([]);
      const spent = await ledger(jobId);
      expect(spent).toMatchObject(ONE_TASK_EACH);
      // Two refused creates and one accepted; the unreadable try-on create was adopted, not repeated.
      expect(spent.styleCalls).toBe(3);
      expect(spent.tryonCalls).toBe(1);
      // Retries stay bounded: one check per finished task, plus one per unreadable answer.
      expect(vendors.openai.checks).toBeLessThanOrEqual(3);
      expect(vendors.kling.checks).toBeLessThanOrEqual(5);
      report("provider faults: 429, 5xx, malformed", {
        ...spent,
        openaiChecks: vendors.openai.checks,
        klingChecks: vendors.kling.checks,
        replicateChecks: vendors.replicate.checks,
        pollMaxMs: Math.max(...latenciesMs),
        seconds: Math.round((Date.now() - started) / 1000),
      });
    });
  });

  it("answers every poll within the budget while a vendor is slower than it, and still completes", async ({
    expect,
  }) => {
    await withScenario(async ({ vendors, run, ledger }) => {
      vendors.replicate.faults.push({ on: "get", kind: "hang", ms: 9_500 });
      const { jobId, final, latenciesMs } = await run(2);
      expect(final.status, final.error ?? "").toBe("completed");
      expect(vendors.replicate.faults).toEqual([]);
      expect(await ledger(jobId)).toMatchObject(ONE_TASK_EACH);
      const slowest = Math.max(...latenciesMs);
      // The slow answer held one poll for the whole budget, and no longer.
      expect(slowest).toBeGreaterThan(7_500);
      expect(slowest).toBeLessThan(POLL_ANSWER_LIMIT_MS);
      expect(vendors.replicate.checks).toBeLessThanOrEqual(3);
      report("provider faults: slow vendor", {
        pollMaxMs: slowest,
        polls: latenciesMs.length,
        replicateChecks: vendors.replicate.checks,
      });
    });
  });

  it("ends an endless 429 storm after the step's attempt cap, with a readable error", async ({ expect }) => {
    await withScenario(async ({ vendors, run }) => {
      const storm = { on: "create" as const, kind: "http" as const, status: 429, times: 50 };
      vendors.openai.faults.push({ ...storm, headers: { "retry-after": "1" } });
      const started = Date.now();
      const { final } = await run(3);
      const attempts = 50 - (vendors.openai.faults[0]?.times ?? 0);
      expect(final.status).toBe("failed");
      expect(final.step).toBe(1);
      expectReadableSentence(final.error);
      expect(final.error).toMatch(/busy/i);
      expect(attempts).toBe(PIPELINE[0]?.retry.maxFailures);
      expect(vendors.openai.createsByKey().size).toBe(0);
      report("provider faults: endless 429 storm", {
        attempts,
        error: final.error,
        seconds: Math.round((Date.now() - started) / 1000),
      });
    });
  });

  it("fails the job with a readable error when the result URL answers 404", async ({ expect }) => {
    await withScenario(async ({ vendors, run, ledger }) => {
      vendors.kling.faults.push({ on: "result", kind: "expired" });
      const { jobId, final } = await run(4);
      expect(final.status).toBe("failed");
      expect(final.step).toBe(2);
      expectReadableSentence(final.error);
      expect(final.imageUrl).toBeNull();
      expect(await ledger(jobId)).toMatchObject({ advice: 1, style: 1, tryon: 0, faceswap: 0 });
      report("provider faults: result 404", { error: final.error });
    });
  });

  it("keeps checking a task that never finishes at the throttle, then fails it at the step's deadline", async ({
    expect,
  }) => {
    await withScenario(async ({ vendors, app, ledger }) => {
      vendors.kling.faults.push({ on: "create", match: "generations", kind: "never-finishes" });
      const person = await personPhoto();
      const form = startForm({ person, garment: await garmentPhoto(colour(5)), occasion: "Never" });
      const jobId = await startJobOver(app.url, form);
      for (let job = await getStatus(app.url, jobId); job.step < 2; job = await getStatus(app.url, jobId)) {
        await sleep(200);
      }
      // Five tabs polling every 100 ms for 7 s: Kling is checked at its own pace (every 3 s), no faster.
      const watchFrom = Date.now();
      const checksBefore = vendors.kling.checks;
      await Promise.all(
        Array.from({ length: 5 }, async () => {
          while (Date.now() - watchFrom < 7_000) {
            expect((await getStatus(app.url, jobId)).status).toBe("processing-style");
            await sleep(100);
          }
        }),
      );
      const checks = vendors.kling.checks - checksBefore;
      expect(checks).toBeGreaterThanOrEqual(1);
      expect(checks).toBeLessThanOrEqual(Math.ceil(7_000 / 3_000) + 1);

      // The step's deadline is minutes away: move its start back past it, as the clock would.
      const store = createSqliteStore({
        codec: jobCodec,
        file: path.join(app.dataDir, "jobs.db"),
        ttlSeconds: 3600,
      });
      const deadlineMs = PIPELINE[1]?.deadlineMs ?? 0;
      try {
        for (let written = null; !written; ) {
          const job = await store.get(jobId);
          if (!job?.current) throw new Error("the job lost its step");
          const current = { ...job.current, startedAt: Date.now() - deadlineMs - 1_000 };
          written = await store.compareAndSet({ ...job, current, nextCheckAt: 0 }, job.version);
        }
      } finally {
        await store.close();
      }
      const { final } = await pollRecording(app.url, jobId);
      expect(final.status).toBe("failed");
      expectReadableSentence(final.error);
      expect(final.error).toMatch(/took too long/);
      expect((await ledger(jobId)).style).toBe(1);
      report("provider faults: never finishes", { checksIn7s: checks, error: final.error });
    });
  });
});
