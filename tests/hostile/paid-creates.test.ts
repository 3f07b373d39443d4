import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { StoredJob } from "@/lib/jobs/job";
import { jobCodec } from "@/lib/jobs/job-store";
import { PIPELINE } from "@/lib/jobs/pipeline";
import type { PublicJob } from "@/lib/public-job";
import { createSqliteStore } from "@/lib/store/sqlite";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import { colour, expectReadableSentence, pollRecording, report } from "@/tests/support/hostile";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { startJobOver } from "@/tests/support/poll";
import { ledgerOf, type StepLedger } from "@/tests/support/vendor-ledger";

/**
 * Issue #11, "Tests that must exist": paid creates through the real adapters against the vendor
 * emulators, over HTTP against `next start`. A create answered after its timeout, every create
 * answered late, and a 429 with `Retry-After: 86400`, at each vendor; the creates are counted from
 * the emulators' own ledgers, the bounds are the README's (*Paid creates: the worst case*).
 */

/** Short vendor timeouts, so a lost answer costs 2 s instead of 45 (LEASE_MS follows: 16 s). */
const CREATE_TIMEOUT_MS = 2_000;
const APP_ENV = { VENDOR_CREATE_TIMEOUT_MS: String(CREATE_TIMEOUT_MS), VENDOR_CALL_TIMEOUT_MS: "5000" };
/** An answer the vendor sends once the app has given up on it: the create exists, its answer is lost. */
const ANSWERED_AFTER_TIMEOUT = { kind: "late", ms: CREATE_TIMEOUT_MS + 1_000 } as const;
/** Never answered: the connection stays open until the app gives up. */
const NEVER_ANSWERED = { kind: "late", times: 20 } as const;
const TASK_MS = 300;
const POLL_MS = 200;
/** The look's cap on creates (MAX_CREATES_PER_JOB), as the README states it. */
const PER_LOOK_BOUND = 10;

const [ADVICE, STYLE, , FACESWAP] = PIPELINE;

interface LogLine {
  at: string;
  event: string;
  jobId?: string;
  step?: string;
  phase?: string;
  from?: string;
}

/** The app's structured log lines about one job, oldest first. */
function logOf(app: AppServer, jobId: string): LogLine[] {
  return app.output.flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      const parsed = JSON.parse(line) as LogLine;
      return parsed.jobId === jobId ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

const atMs = (line: LogLine | undefined) => (line ? Date.parse(line.at) : Number.NaN);

/** The job as stored, read from the app's SQLite file (a status poll would advance it). */
async function storedJob(app: AppServer, jobId: string): Promise<StoredJob> {
  const store = createSqliteStore({
    codec: jobCodec,
    file: path.join(app.dataDir, "jobs.db"),
    ttlSeconds: 3600,
  });
  try {
    const job = await store.get(jobId);
    if (!job) throw new Error(`job ${jobId} is not in the store`);
    return job;
  } finally {
    await store.close();
  }
}

/**
 * Starts a look and polls it to its end like a patient tab: every answer a leak-free 200, and no
 * advance of it ended in an error the engine did not handle.
 */
async function runLook(app: AppServer, garment: number) {
  const form = startForm({
    person: await personPhoto(),
    garment: await garmentPhoto(colour(garment)),
    occasion: `Paid creates ${garment}`,
  });
  const startedAt = Date.now();
  const jobId = await startJobOver(app.url, form);
  const { final } = await pollRecording(app.url, jobId, { intervalMs: POLL_MS, timeoutMs: 100_000 });
  expect(logOf(app, jobId).filter((line) => line.event === "advance.failed")).toEqual([]);
  return { jobId, final, startedAt, endedAt: Date.now() };
}

/** What each vendor was asked to create for the job (faults cleared first: the ledger lists Kling's tasks). */
async function ledger(vendors: VendorEmulators, app: AppServer, jobId: string) {
  vendors.kling.faults.length = 0;
  const job = await storedJob(app, jobId);
  return { job, spent: await ledgerOf(vendors, job, app.dataDir) };
}

const totalCreates = (spent: StepLedger) =>
  spent.advice + spent.styleCalls + spent.tryonCalls + spent.faceswap;

function expectFailedWith(final: PublicJob, sentence: string): void {
  expect(final.status).toBe("failed");
  expect(final.error).toBe(sentence);
  expectReadableSentence(final.error);
}

// The two groups run side by side (describe.concurrent), each with its own app and emulators: the
// Retry-After group spends ~30 s waiting out clamped backoffs, and the other needs its emulators'
// fault queues to itself, so its tests run one after another (it.sequential).

describe.concurrent("answers lost after the create timeout, one vendor at a time", () => {
  let vendors: VendorEmulators;
  let app: AppServer;

  beforeAll(async () => {
    vendors = await startVendorEmulators(TASK_MS);
    app = await startApp({ ...vendors.env, ...APP_ENV });
  });
  afterAll(async () => {
    await app?.stop();
    await vendors?.close();
  });
  beforeEach(() => {
    vendors.openai.reset();
    vendors.kling.reset();
    vendors.replicate.reset();
  });

  it.sequential("completes when a create is answered late at each vendor (every create at Kling), each step within its bound", async () => {
    vendors.openai.faults.push({ on: "create", ...ANSWERED_AFTER_TIMEOUT });
    // Every Kling create of both steps, so this is also Kling's "every create answered late".
    vendors.kling.faults.push({ on: "create", ...ANSWERED_AFTER_TIMEOUT, times: 20 });
    vendors.replicate.faults.push({ on: "create", ...ANSWERED_AFTER_TIMEOUT });
    const { jobId, final, startedAt, endedAt } = await runLook(app, 1);
    expect(final.status, final.error ?? "").toBe("completed");
    const { job, spent } = await ledger(vendors, app, jobId);
    // OpenAI and Replicate (no webhooks) cannot say whether they have the task: one blind repeat.
    expect(spent.advice).toBe(2);
    expect(spent.faceswap).toBe(2);
    // Kling's lookup by external_task_id finds the lost create's task: it is adopted, never repaid.
    expect(spent).toMatchObject({ style: 1, styleCalls: 1, tryon: 1, tryonCalls: 1 });
    expect(job.creates).toBe(totalCreates(spent));
    expect(job.creates).toBeLessThanOrEqual(PER_LOOK_BOUND);
    const log = logOf(app, jobId);
    const recovered = log.filter((line) => line.event === "step.task_recovered" && line.from === "lookup");
    expect(recovered.map((line) => line.step)).toEqual(["style", "tryon"]);
    const repeated = log.filter((line) => line.event === "step.create_repeated");
    expect(repeated.map((line) => line.step)).toEqual(["advice", "faceswap"]);
    report("paid creates: one create per step answered after the timeout", {
      creates: spent,
      jobCreates: job.creates,
      completedInMs: endedAt - startedAt,
    });
  });

  it.sequential("OpenAI: fails the advice with a sentence after 2 creates when every create is answered late", async () => {
    vendors.openai.faults.push({ on: "create", ...NEVER_ANSWERED });
    const { jobId, final, startedAt } = await runLook(app, 2);
    expectFailedWith(
      final,
      "Writing your styling advice was stopped: twice we could not tell whether the service had started it. Please try again later.",
    );
    const { job, spent } = await ledger(vendors, app, jobId);
    expect(spent).toMatchObject({ advice: 2, styleCalls: 0, tryonCalls: 0, faceswap: 0 });
    expect(job.creates).toBe(2);
    const stopped = logOf(app, jobId).find((line) => line.event === "step.unknown_twice");
    expect(stopped?.step).toBe("advice");
    report("paid creates: every OpenAI create answered late", {
      adviceCreates: spent.advice,
      failedAfterStepStartMs: atMs(stopped) - startedAt,
    });
  });

  it.sequential("Kling: fails with a sentence after at most 5 calls, 1 task, when its task list fails too", async () => {
    vendors.kling.faults.push({ on: "create", match: "generations", ...NEVER_ANSWERED });
    vendors.kling.faults.push({ on: "list", kind: "http", status: 500, code: 5000, times: 50 });
    const { jobId, final } = await runLook(app, 3);
    // Every later create of the attempt is refused by Kling (its external_task_id exists), and no
    // lookup can adopt the task: the step's ordinary retry cap ends it.
    expectFailedWith(
      final,
      "The image service is having trouble right now. We tried 5 times; please try again later.",
    );
    const { job, spent } = await ledger(vendors, app, jobId);
    expect(spent).toMatchObject({ advice: 1, style: 1, tryonCalls: 0, faceswap: 0 });
    expect(spent.styleCalls).toBeLessThanOrEqual(5);
    expect(job.creates).toBe(1 + spent.styleCalls);
    const log = logOf(app, jobId);
    const stepStart = atMs(log.find((line) => line.event === "step.completed" && line.step === "advice"));
    const failedAt = atMs(log.findLast((line) => line.event === "step.failed" && line.step === "style"));
    report("paid creates: every Kling create answered late, its task list failing", {
      styleCalls: spent.styleCalls,
      styleTasks: spent.style,
      failedAfterStepStartMs: failedAt - stepStart,
    });
  });

  it.sequential("Replicate: fails the face swap with a sentence after 2 creates when every create is answered late", async () => {
    vendors.replicate.faults.push({ on: "create", ...NEVER_ANSWERED });
    const { jobId, final } = await runLook(app, 4);
    expectFailedWith(
      final,
      "Adding the finishing touches was stopped: twice we could not tell whether the service had started it. Please try again later.",
    );
    const { job, spent } = await ledger(vendors, app, jobId);
    expect(spent).toMatchObject({ advice: 1, style: 1, tryon: 1, faceswap: 2 });
    expect(job.creates).toBe(5);
    const log = logOf(app, jobId);
    const stepStart = atMs(log.find((line) => line.event === "step.completed" && line.step === "tryon"));
    const stopped = log.find((line) => line.event === "step.unknown_twice");
    expect(stopped?.step).toBe("faceswap");
    report("paid creates: every Replicate create answered late", {
      faceswapCreates: spent.faceswap,
      failedAfterStepStartMs: atMs(stopped) - stepStart,
    });
  });
});

describe.concurrent("a 429 with Retry-After: 86400 on a create, at each vendor", () => {
  let vendors: VendorEmulators;
  let app: AppServer;

  beforeAll(async () => {
    vendors = await startVendorEmulators(TASK_MS);
    app = await startApp({ ...vendors.env, ...APP_ENV });
  });
  afterAll(async () => {
    await app?.stop();
    await vendors?.close();
  });

  /** What a poll or two after the clamped backoff may add: the poll interval and a loaded machine. */
  const MARGIN_MS = 2_500;

  it("moves each step on within its largest backoff, and completes", async () => {
    const day = 86_400;
    vendors.openai.faults.push({
      on: "create",
      kind: "http",
      status: 429,
      headers: { "retry-after": `${day}` },
    });
    vendors.kling.faults.push({
      on: "create",
      match: "generations",
      kind: "http",
      status: 429,
      code: 1302,
      retryAfterSeconds: day,
    });
    vendors.replicate.faults.push({
      on: "create",
      kind: "http",
      status: 429,
      headers: { "retry-after": `${day}` },
    });
    // Three looks at once, so the three ~30 s waits overlap; each 429 goes to whichever look
    // reaches that vendor first.
    const looks = await Promise.all([11, 12, 13].map((garment) => runLook(app, garment)));
    for (const { final } of looks) expect(final.status, final.error ?? "").toBe("completed");
    expect(vendors.openai.faults.length + vendors.kling.faults.length + vendors.replicate.faults.length).toBe(
      0,
    );

    const figures: Record<string, number> = {};
    for (const step of [ADVICE, STYLE, FACESWAP]) {
      if (!step) throw new Error("the pipeline lost a step");
      const hits = looks.flatMap(({ jobId }) => {
        const log = logOf(app, jobId);
        const refused = log.find(
          (l) => l.event === "step.failed" && l.step === step.name && l.phase === "refused",
        );
        if (!refused) return [];
        const next = log.find(
          (l) => l.event === "step.submitted" && l.step === step.name && atMs(l) > atMs(refused),
        );
        return [atMs(next) - atMs(refused)];
      });
      expect(hits, `${step.name}: one 429 in all`).toHaveLength(1);
      const delayMs = hits[0] ?? Number.NaN;
      // Clamped to the step's largest backoff: neither the day asked for nor the 1 s first backoff.
      expect(delayMs, step.name).toBeGreaterThanOrEqual(step.retry.maxDelayMs - 250);
      expect(delayMs, step.name).toBeLessThanOrEqual(step.retry.maxDelayMs + MARGIN_MS);
      figures[`${step.name}DelayMs`] = delayMs;
      figures[`${step.name}MaxDelayMs`] = step.retry.maxDelayMs;
    }
    let styleCalls = 0;
    for (const { jobId } of looks) {
      const { job, spent } = await ledger(vendors, app, jobId);
      // A 429 creates nothing: one task per step.
      expect(spent).toMatchObject({ advice: 1, style: 1, tryon: 1, tryonCalls: 1, faceswap: 1 });
      expect(job.creates).toBeLessThanOrEqual(PER_LOOK_BOUND);
      styleCalls += spent.styleCalls;
    }
    // Kling's ledger counts create calls: the refused one, and one per look.
    expect(styleCalls).toBe(looks.length + 1);
    report("paid creates: Retry-After 86400 on a create's 429", {
      ...figures,
      longestLookMs: Math.max(...looks.map((look) => look.endedAt - look.startedAt)),
    });
  });
});
