import { clampPollDelay } from "@/lib/public-job";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { getStatus, startJobOver } from "@/tests/support/poll";
import { APP_BASE_ENV, APP_READY, type BenchContext, type SectionResult } from "../support/context";
import type { Row } from "../support/report";
import { type Server, startNext } from "../support/servers";
import { median, sleep, summarize } from "../support/stats";

/**
 * 4. Orchestration overhead: jobs started at once against the vendor emulators, every task taking a
 * fixed time, each polled by a client that does what the browser does (hooks/use-job-polling.ts: poll
 * at once, then after pollAfterMs clamped to 1–5 s). Overhead = start request sent → `completed` seen,
 * minus the providers' own time (4 × the task time). The app's log events say where the time went.
 */

const SECTION = "4 orchestration";
const STEPS = ["advice", "style", "tryon", "faceswap"] as const;
const WARMUP_BATCH = 5;

interface ClientRun {
  jobId: string;
  /** ms epoch when the start request was sent, to line the client up with the app's log. */
  sentAt: number;
  status: string;
  /** ms from the start request being sent. */
  acceptedMs: number;
  completedMs: number;
  polls: number;
}

const colour = (i: number) => `#${(0x203040 + i * 0x1f2b17).toString(16).slice(-6)}`;

async function followJob(url: string, form: FormData, timeoutMs: number): Promise<ClientRun> {
  const started = performance.now();
  const sentAt = Date.now();
  const jobId = await startJobOver(url, form);
  const acceptedMs = performance.now() - started;
  let polls = 0;
  for (;;) {
    const job = await getStatus(url, jobId);
    polls++;
    const elapsed = performance.now() - started;
    if (job.status === "completed" || job.status === "failed" || elapsed > timeoutMs) {
      return { jobId, sentAt, status: job.status, acceptedMs, completedMs: elapsed, polls };
    }
    await sleep(clampPollDelay(job.pollAfterMs ?? 5_000));
  }
}

/** Per step, from the app's own log: how long past the task's end the app noticed it was done. */
function stepTimings(logged: Array<Record<string, unknown>>, jobIds: Set<string>, taskMs: number) {
  const at = (event: Record<string, unknown>) => Date.parse(String(event.at));
  const byKey = new Map<string, number>();
  for (const event of logged) {
    if (!jobIds.has(String(event.jobId))) continue;
    if (event.event === "job.created") byKey.set(`${event.jobId}:created`, at(event));
    if (event.event === "step.submitted" || event.event === "step.completed") {
      byKey.set(`${event.jobId}:${event.step}:${event.event}`, at(event));
    }
  }
  const perStep: Record<string, { detectMs: number; handoffMs: number }> = {};
  for (const [i, step] of STEPS.entries()) {
    const detect: number[] = [];
    const handoff: number[] = [];
    for (const jobId of jobIds) {
      const submitted = byKey.get(`${jobId}:${step}:step.submitted`);
      const completed = byKey.get(`${jobId}:${step}:step.completed`);
      const previous =
        i === 0 ? byKey.get(`${jobId}:created`) : byKey.get(`${jobId}:${STEPS[i - 1]}:step.completed`);
      if (submitted !== undefined && completed !== undefined) detect.push(completed - submitted - taskMs);
      if (submitted !== undefined && previous !== undefined) handoff.push(submitted - previous);
    }
    perStep[step] = { detectMs: median(detect), handoffMs: median(handoff) };
  }
  return { perStep, byKey };
}

/** Each job's story in ms from its start request: created, then each step's submit and completion. */
function timelines(runs: readonly ClientRun[], byKey: Map<string, number>) {
  return runs.map((run) => {
    const since = (key: string) => {
      const at = byKey.get(`${run.jobId}:${key}`);
      return at === undefined ? null : at - run.sentAt;
    };
    return {
      jobId: run.jobId,
      accepted: Math.round(run.acceptedMs),
      created: since("created"),
      steps: Object.fromEntries(
        STEPS.map((step) => [step, [since(`${step}:step.submitted`), since(`${step}:step.completed`)]]),
      ),
      completedSeen: Math.round(run.completedMs),
      polls: run.polls,
    };
  });
}

export async function benchOrchestration(ctx: BenchContext): Promise<SectionResult> {
  const taskMs = ctx.smoke ? 500 : 2_000;
  const jobs = ctx.smoke ? 2 : 20;
  const providerMs = STEPS.length * taskMs;
  let vendors: VendorEmulators | undefined;
  let app: Server | undefined;
  try {
    vendors = await startVendorEmulators(taskMs);
    app = await startNext(
      ctx.builds.appDir,
      {
        ...APP_BASE_ENV,
        ...vendors.env,
        REDIS_URL: ctx.redis?.url ?? "",
        STORE_KEY_PREFIX: ctx.prefix(),
        DATA_DIR: ctx.dir("orchestration"),
      },
      APP_READY,
      { keepEvents: true },
    );
    const person = await personPhoto();
    const warmupJobs = ctx.smoke ? 0 : Math.max(1, Number(ctx.option("warmup-jobs") ?? 1));
    const forms = await Promise.all(
      Array.from({ length: jobs + 1 }, async (_, i) =>
        startForm({ person, garment: await garmentPhoto(colour(i)), occasion: `Evening out ${i}` }),
      ),
    );
    const timeoutMs = providerMs + 60_000;
    // Warm-up jobs run in batches of five, so that whatever the app learns from one batch (it learns
    // nothing today: the poll hints are fixed) applies to the next.
    for (let done = 0; done < warmupJobs; done += WARMUP_BATCH) {
      const batch = Math.min(WARMUP_BATCH, warmupJobs - done);
      ctx.log(`  orchestration: warm-up, jobs ${done + 1}–${done + batch} of ${warmupJobs}…`);
      await Promise.all(
        Array.from({ length: batch }, (_, i) =>
          followJob(app?.url ?? "", forms[(done + i) % jobs] ?? new FormData(), timeoutMs),
        ),
      );
    }
    vendors.openai.reset();
    vendors.kling.reset();
    vendors.replicate.reset();

    ctx.log(`  orchestration: ${jobs} jobs at once, ${taskMs} ms per task…`);
    const runs = await Promise.all(
      forms.slice(0, jobs).map((form) => followJob(app?.url ?? "", form, timeoutMs)),
    );
    const completed = runs.filter((run) => run.status === "completed");
    const overheads = completed.map((run) => run.completedMs - providerMs);
    const fromAccepted = completed.map((run) => run.completedMs - run.acceptedMs - providerMs);
    const checks = vendors.openai.checks + vendors.kling.checks + vendors.replicate.checks;
    const overhead = summarize(overheads);
    const { perStep, byKey } = stepTimings(app.logged, new Set(runs.map((run) => run.jobId)), taskMs);
    const polls = summarize(runs.map((run) => run.polls));

    const rows: Row[] = [
      {
        section: SECTION,
        measure: `overhead, median (start sent → completed − ${providerMs / 1000} s; ${jobs} jobs)`,
        unit: "ms",
        figure: overhead.p50,
        baseline: providerMs,
        target: "≤ 1500 ms",
        met: overhead.p50 <= 1_500,
      },
      { section: SECTION, measure: "overhead, max", unit: "ms", figure: overhead.max, met: null },
      {
        section: SECTION,
        measure: "overhead from the 202, median",
        unit: "ms",
        figure: median(fromAccepted),
        met: null,
      },
      { section: SECTION, measure: "status calls per job (mean)", unit: "", figure: polls.mean, met: null },
      {
        section: SECTION,
        measure: "provider checks per job (mean)",
        unit: "",
        figure: checks / jobs,
        met: null,
      },
      ...STEPS.map((step) => ({
        section: SECTION,
        measure: `${step}: submitted → completed − ${taskMs / 1000} s (median)`,
        unit: "ms",
        figure: perStep[step]?.detectMs ?? Number.NaN,
        met: null,
      })),
      {
        section: SECTION,
        measure: "jobs completed",
        unit: `of ${jobs}`,
        figure: completed.length,
        target: `${jobs}`,
        met: completed.length === jobs,
      },
    ];
    return {
      rows,
      details: {
        jobs,
        warmupJobs,
        taskMs,
        providerMs,
        overheadMs: overhead,
        overheadFromAcceptedMs: summarize(fromAccepted),
        polls,
        providerChecks: {
          openai: vendors.openai.checks,
          kling: vendors.kling.checks,
          replicate: vendors.replicate.checks,
        },
        perStepMedianMs: perStep,
        timelines: timelines(runs, byKey),
      },
    };
  } finally {
    await app?.stop();
    await vendors?.close();
  }
}
