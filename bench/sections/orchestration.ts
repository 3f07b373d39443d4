import type { VendorDurations } from "@/tests/support/emulators";
import type { BenchContext, SectionResult } from "../support/context";
import {
  type CaseFigures,
  type ClientKind,
  type RunResult,
  runOrchestration,
} from "../support/orchestration-run";
import type { Row } from "../support/report";

/**
 * 4. Orchestration overhead (issue 16's table), two runs on their own app and emulators:
 *
 * - `orchestration`: 4 steps × 2 s, 20 jobs at once after a warm-up, clients polling by pollAfterMs,
 *   then 20 on the event stream. Overhead = start sent → `completed` seen − 8 s.
 * - `realistic`: vendor times like the real ones (advice ~8 s, style ~25 s, try-on ~30 s, face swap
 *   ~10 s), each task ±30 % (uniform), same clients; overhead against each job's own vendor time, and
 *   the estimate seen half-way vs the real completion.
 *
 * Each figure has the status requests (and stream connections) per job and the vendor checks per
 * step beside it. A client kind whose endpoint is missing prints "not available (endpoint missing)".
 */

interface Targets {
  overheadP50: Record<ClientKind, number>;
  overheadP90?: number;
  checksPerStep?: number;
  etaError?: number;
}

function rows(section: string, result: RunResult, jobs: number, targets: Targets): Row[] {
  const out: Row[] = [];
  for (const kind of ["polling", "streaming"] as const) {
    const figures = result.cases.find((each) => each.kind === kind);
    if (!figures) {
      const reason = result.unavailable[kind] ?? "not run";
      out.push({ section, measure: `${kind}: ${reason}`, unit: "", figure: Number.NaN, met: null });
      continue;
    }
    out.push(...caseRows(section, figures, jobs, targets, kind));
  }
  return out;
}

function caseRows(section: string, f: CaseFigures, jobs: number, t: Targets, kind: ClientKind): Row[] {
  const beside = `${f.statusRequestsPerJob.toFixed(1)} status req/job, ${f.connectionsPerJob.toFixed(1)} streams/job, ${f.checksPerStep.median} checks/step`;
  const out: Row[] = [
    {
      section,
      measure: `${kind}: overhead, median (${beside})`,
      unit: "ms",
      figure: f.overheadMs.p50,
      target: `≤ ${t.overheadP50[kind]} ms`,
      met: f.overheadMs.p50 <= t.overheadP50[kind],
    },
    {
      section,
      measure: `${kind}: overhead, p90`,
      unit: "ms",
      figure: f.overheadMs.p90,
      ...(t.overheadP90 !== undefined && kind === "polling"
        ? { target: `≤ ${t.overheadP90} ms`, met: f.overheadMs.p90 <= t.overheadP90 }
        : { met: null }),
    },
    {
      section,
      measure: `${kind}: overhead from the 202, median`,
      unit: "ms",
      figure: f.overheadFromAcceptedP50,
      met: null,
    },
    {
      section,
      measure: `${kind}: status requests per job (mean)`,
      unit: "",
      figure: f.statusRequestsPerJob,
      met: null,
    },
    {
      section,
      measure: `${kind}: stream connections per job (mean)`,
      unit: "",
      figure: f.connectionsPerJob,
      met: null,
    },
    {
      section,
      measure: `${kind}: vendor checks per step, median (advice/style/try-on/face swap ${Object.values(f.checksPerStep.byStep).join("/")}; mean ${f.checksPerStep.mean.toFixed(2)})`,
      unit: "",
      figure: f.checksPerStep.median,
      ...(t.checksPerStep !== undefined
        ? { target: `≤ ${t.checksPerStep}`, met: f.checksPerStep.median <= t.checksPerStep }
        : { met: null }),
    },
    {
      section,
      measure: `${kind}: task end → seen done, median per step (advice/style/try-on/face swap ${Object.values(
        f.detectMs,
      )
        .map((ms) => Math.round(ms))
        .join("/")} ms)`,
      unit: "ms",
      figure: Math.max(...Object.values(f.detectMs)),
      met: null,
    },
  ];
  if (t.etaError !== undefined) {
    out.push({
      section,
      measure: `${kind}: estimatedReadyAt half-way vs completion, median error of the time left (${f.etaErrorAtHalf.samples} jobs; p90 ${(f.etaErrorAtHalf.p90 * 100).toFixed(0)} %)`,
      unit: "%",
      figure: f.etaErrorAtHalf.median * 100,
      target: `≤ ${t.etaError * 100} %`,
      met: f.etaErrorAtHalf.median <= t.etaError,
    });
  }
  out.push({
    section,
    measure: `${kind}: jobs completed`,
    unit: `of ${jobs}`,
    figure: f.completed,
    target: `${jobs}`,
    met: f.completed === jobs,
  });
  return out;
}

const warmupOption = (ctx: BenchContext, fallback: number) =>
  ctx.smoke ? 0 : Math.max(0, Number(ctx.option("warmup-jobs") ?? fallback));

export async function benchOrchestration(ctx: BenchContext): Promise<SectionResult> {
  const taskMs = ctx.smoke ? 500 : 2_000;
  const jobs = ctx.smoke ? 2 : 20;
  const section = `4 orchestration, 4 × ${taskMs / 1000} s`;
  const result = await runOrchestration(ctx, {
    name: "orchestration",
    durations: taskMs,
    jobs,
    warmupJobs: warmupOption(ctx, 10),
    timeoutMs: 4 * taskMs + 60_000,
  });
  const targets = { overheadP50: { polling: 1_000, streaming: 400 }, overheadP90: 1_500 };
  return { rows: rows(section, result, jobs, targets), details: { taskMs, jobs, ...result } };
}

/** Typical vendor times (ms); the smoke run scales them down 20×. */
const REALISTIC_MS = { advice: 8_000, style: 25_000, tryon: 30_000, faceswap: 10_000 } as const;
const JITTER = 0.3;

export async function benchRealistic(ctx: BenchContext): Promise<SectionResult> {
  const scale = ctx.smoke ? 1 / 20 : 1;
  const jobs = ctx.smoke ? 2 : 20;
  const jittered = (ms: number) => () => Math.round(ms * scale * (1 - JITTER + 2 * JITTER * Math.random()));
  const durations: VendorDurations = {
    advice: jittered(REALISTIC_MS.advice),
    style: jittered(REALISTIC_MS.style),
    tryon: jittered(REALISTIC_MS.tryon),
    faceswap: jittered(REALISTIC_MS.faceswap),
  };
  const section = "4b orchestration, realistic vendor times ±30 %";
  const result = await runOrchestration(ctx, {
    name: "realistic",
    durations,
    jobs,
    warmupJobs: warmupOption(ctx, 5),
    timeoutMs: 120_000,
  });
  const targets = { overheadP50: { polling: 1_500, streaming: 500 }, checksPerStep: 3, etaError: 0.2 };
  return { rows: rows(section, result, jobs, targets), details: { scale, jitter: JITTER, jobs, ...result } };
}
