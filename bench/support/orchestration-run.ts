import { startVendorEmulators, type VendorDurations, type VendorEmulators } from "@/tests/support/emulators";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { APP_BASE_ENV, APP_READY, type BenchContext } from "./context";
import { type ClientRun, pollJob, StreamMissing, streamJob } from "./job-clients";
import { type Server, startNext } from "./servers";
import { median, percentile } from "./stats";

/**
 * One orchestration run: the three vendor emulators, the app on the private Redis pointed at them,
 * a warm-up (so the app has learned its step times), then each client kind's measured jobs, all
 * started at once. Figures come from the clients and from the app's own log (`step.submitted` with
 * its task id, `step.completed` with its check count); the emulators say how long each task really
 * took, so the overhead is exact even with jittered vendor times.
 */

export const STEPS = ["advice", "style", "tryon", "faceswap"] as const;
const WARMUP_BATCH = 5;

export type ClientKind = "polling" | "streaming";

export interface CaseFigures {
  kind: ClientKind;
  jobs: number;
  completed: number;
  /** Start sent → `completed` seen, minus the job's own vendor time (ms). */
  overheadMs: { p50: number; p90: number; max: number };
  overheadFromAcceptedP50: number;
  statusRequestsPerJob: number;
  connectionsPerJob: number;
  /** Vendor checks per step (each task's, from the app's log). */
  checksPerStep: { median: number; mean: number; byStep: Record<string, number> };
  /** |estimatedReadyAt seen at the half-way point − real completion| ÷ the time left then. */
  etaErrorAtHalf: { median: number; p90: number; samples: number };
  /** Per step, median ms from the task's end to the app seeing it done. */
  detectMs: Record<string, number>;
  /** Each job's story: per step [submitted, completed] ms after its start was sent, its vendor time, checks, expectation. */
  timelines: Array<Record<string, unknown>>;
}

export interface RunResult {
  cases: CaseFigures[];
  /** Client kinds that could not run, and why. */
  unavailable: Partial<Record<ClientKind, string>>;
  warmupJobs: number;
}

const colour = (i: number) => `#${(0x203040 + i * 0x1f2b17).toString(16).slice(-6)}`;

function logIndex(logged: ReadonlyArray<Record<string, unknown>>) {
  const submitted = new Map<string, { at: number; taskId: string; expectedMs: number }>();
  const completed = new Map<string, { at: number; checks: number }>();
  for (const event of logged) {
    const key = `${event.jobId}:${event.step}`;
    const at = Date.parse(String(event.at));
    if (event.event === "step.submitted")
      submitted.set(key, {
        at,
        taskId: String(event.taskId),
        expectedMs: Number(event.expectedMs ?? Number.NaN),
      });
    if (event.event === "step.completed")
      completed.set(key, { at, checks: Number(event.checks ?? Number.NaN) });
  }
  return { submitted, completed };
}

function taskDuration(vendors: VendorEmulators, step: string, taskId: string): number | undefined {
  if (step === "advice") return vendors.openai.taskDurationOf(taskId);
  if (step === "faceswap") return vendors.replicate.taskDurationOf(taskId);
  return vendors.kling.taskDurationOf(taskId);
}

function etaError(run: ClientRun): number | null {
  const half = run.completedMs / 2;
  const seen = run.views.filter((view) => view.at <= half && view.view.estimatedReadyAt !== null).at(-1);
  if (!seen?.view.estimatedReadyAt) return null;
  const completedAt = run.sentAt + run.completedMs;
  const seenAt = run.sentAt + seen.at;
  const left = completedAt - seenAt;
  return left > 0 ? Math.abs(Date.parse(seen.view.estimatedReadyAt) - completedAt) / left : null;
}

function figuresOf(
  kind: ClientKind,
  runs: readonly ClientRun[],
  vendors: VendorEmulators,
  logged: ReadonlyArray<Record<string, unknown>>,
): CaseFigures {
  const { submitted, completed } = logIndex(logged);
  const done = runs.filter((run) => run.status === "completed");
  const overheads: number[] = [];
  const fromAccepted: number[] = [];
  const checks: number[] = [];
  const checksByStep: Record<string, number[]> = Object.fromEntries(STEPS.map((step) => [step, []]));
  const detectByStep: Record<string, number[]> = Object.fromEntries(STEPS.map((step) => [step, []]));
  for (const run of done) {
    let vendorMs = 0;
    for (const step of STEPS) {
      const sub = submitted.get(`${run.jobId}:${step}`);
      const end = completed.get(`${run.jobId}:${step}`);
      const duration = sub ? taskDuration(vendors, step, sub.taskId) : undefined;
      vendorMs += duration ?? Number.NaN;
      if (end && Number.isFinite(end.checks)) {
        checks.push(end.checks);
        checksByStep[step]?.push(end.checks);
      }
      if (sub && end && duration !== undefined) detectByStep[step]?.push(end.at - sub.at - duration);
    }
    overheads.push(run.completedMs - vendorMs);
    fromAccepted.push(run.completedMs - run.acceptedMs - vendorMs);
  }
  const sorted = [...overheads].sort((a, b) => a - b);
  const errors = runs.map(etaError).filter((error): error is number => error !== null);
  const sortedErrors = [...errors].sort((a, b) => a - b);
  const mean = (values: readonly number[]) => values.reduce((sum, v) => sum + v, 0) / (values.length || 1);
  return {
    kind,
    jobs: runs.length,
    completed: done.length,
    overheadMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      max: sorted.at(-1) ?? Number.NaN,
    },
    overheadFromAcceptedP50: median(fromAccepted),
    statusRequestsPerJob: mean(runs.map((run) => run.polls)),
    connectionsPerJob: mean(runs.map((run) => run.connections)),
    checksPerStep: {
      median: median(checks),
      mean: mean(checks),
      byStep: Object.fromEntries(STEPS.map((step) => [step, median(checksByStep[step] ?? [])])),
    },
    etaErrorAtHalf: { median: median(errors), p90: percentile(sortedErrors, 90), samples: errors.length },
    detectMs: Object.fromEntries(STEPS.map((step) => [step, median(detectByStep[step] ?? [])])),
    timelines: runs.map((run) => ({
      jobId: run.jobId,
      accepted: Math.round(run.acceptedMs),
      completedSeen: Math.round(run.completedMs),
      polls: run.polls,
      steps: Object.fromEntries(
        STEPS.map((step) => {
          const sub = submitted.get(`${run.jobId}:${step}`);
          const end = completed.get(`${run.jobId}:${step}`);
          return [
            step,
            {
              submitted: sub ? sub.at - run.sentAt : null,
              completed: end ? end.at - run.sentAt : null,
              vendorMs: sub ? (taskDuration(vendors, step, sub.taskId) ?? null) : null,
              expectedMs: sub?.expectedMs ?? null,
              checks: end?.checks ?? null,
            },
          ];
        }),
      ),
    })),
  };
}

export async function runOrchestration(
  ctx: BenchContext,
  options: {
    name: string;
    durations: number | VendorDurations;
    jobs: number;
    warmupJobs: number;
    timeoutMs: number;
  },
): Promise<RunResult> {
  let vendors: VendorEmulators | undefined;
  let app: Server | undefined;
  try {
    vendors = await startVendorEmulators(options.durations);
    app = await startNext(
      ctx.builds.appDir,
      {
        ...APP_BASE_ENV,
        ...vendors.env,
        REDIS_URL: ctx.redis?.url ?? "",
        STORE_KEY_PREFIX: ctx.prefix(),
        DATA_DIR: ctx.dir(options.name),
      },
      APP_READY,
      { keepEvents: true },
    );
    const url = app.url;
    const person = await personPhoto();
    const forms = await Promise.all(
      Array.from({ length: options.jobs * 2 }, async (_, i) =>
        startForm({ person, garment: await garmentPhoto(colour(i)), occasion: `Evening out ${i}` }),
      ),
    );
    const form = (i: number) => forms[i % forms.length] ?? new FormData();
    // Warm-up in batches of five, so what the app learns from one batch applies to the next.
    for (let done = 0; done < options.warmupJobs; done += WARMUP_BATCH) {
      const batch = Math.min(WARMUP_BATCH, options.warmupJobs - done);
      ctx.log(`  ${options.name}: warm-up, jobs ${done + 1}–${done + batch} of ${options.warmupJobs}…`);
      await Promise.all(
        Array.from({ length: batch }, (_, i) => pollJob(url, form(done + i), options.timeoutMs)),
      );
    }
    const cases: CaseFigures[] = [];
    const unavailable: RunResult["unavailable"] = {};
    for (const [k, kind] of (["polling", "streaming"] as const).entries()) {
      ctx.log(`  ${options.name}: ${options.jobs} jobs at once, clients ${kind}…`);
      const client = kind === "polling" ? pollJob : streamJob;
      try {
        const runs = await Promise.all(
          Array.from({ length: options.jobs }, (_, i) =>
            client(url, form(k * options.jobs + i), options.timeoutMs),
          ),
        );
        cases.push(figuresOf(kind, runs, vendors, app.logged));
      } catch (error) {
        if (!(error instanceof StreamMissing)) throw error;
        unavailable[kind] = "not available (endpoint missing)";
        ctx.log(`  ${options.name}: event stream not available (endpoint missing)`);
        // The jobs those clients started still run: let them end before the app stops.
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    return { cases, unavailable, warmupJobs: options.warmupJobs };
  } finally {
    await app?.stop();
    await vendors?.close();
  }
}
