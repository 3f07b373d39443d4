import { randomUUID } from "node:crypto";
import path from "node:path";
import { createClient } from "redis";
import type { StoredJob } from "@/lib/jobs/job";
import { jobCodec } from "@/lib/jobs/job-store";
import { saveTask } from "@/lib/providers/local/task-files";
import { createRedisStore } from "@/lib/store/redis";
import { makeStoredJob } from "@/tests/support/job-factory";
import { APP_BASE_ENV, APP_READY, type BenchContext, type SectionResult } from "../support/context";
import { type ResponseSample, runLoad } from "../support/load";
import { ProcessSampler } from "../support/proc";
import type { Row } from "../support/report";
import { startNext } from "../support/servers";
import { median, summarize } from "../support/stats";

/**
 * 5. Scale: many active jobs, each polled every 3 s, for a minute. The jobs are written straight into
 * the app's Redis with lib/store (the app's own create) and tests/support/job-factory.ts, each in the
 * style step with an offline-studio task record (lib/providers/local/task-files) that stays running
 * past the run; their first checks are spread evenly over the run, so the app does a steady trickle of
 * real provider checks (lease, check, compare-and-set) among the one-read polls. The app serves them
 * as it would any job. Per 10-s window: the app's CPU (/proc/<pid>/stat), memory and latency.
 */

const SECTION = "5 scale";
const POLL_EVERY_S = 3;

interface Window {
  fromS: number;
  polls: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  appCores: number;
  appRssMb: number;
  redisCores: number;
}

async function seedJobs(
  ctx: BenchContext,
  env: { prefix: string; dataDir: string },
  count: number,
  timing: { warmupS: number; runS: number },
) {
  const store = createRedisStore({
    codec: jobCodec,
    url: ctx.redis?.url ?? "",
    ttlSeconds: 3_600,
    keyPrefix: env.prefix,
  });
  const tasksDir = path.join(env.dataDir, "local-studio");
  const now = Date.now();
  // First checks fall evenly over the measured run, which starts after seeding and a warm-up.
  const firstCheckAt = now + 2_000 + count * 5 + timing.warmupS * 1000;
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, async (_, k) => {
          const id = randomUUID();
          const taskId = randomUUID();
          await saveTask(tasksDir, {
            taskId,
            kind: "style",
            idempotencyKey: `${id}-style-1`,
            createdAt: now,
            readyAt: now + 3_600_000,
          });
          const job: StoredJob = makeStoredJob({
            id,
            status: "processing-style",
            stepIndex: 1,
            current: { attempt: 1, startedAt: now, submittingAt: null, taskId, failures: 0, lastError: null },
            artifacts: {
              advice: {
                summary: "A light linen suit in sand, with a pale blue shirt.",
                pieces: ["linen suit", "pale blue shirt", "loafers"],
                stylePrompt: "A person in a sand linen suit at a summer wedding",
                source: "offline",
              },
            },
            nextCheckAt: firstCheckAt + ((i + k) * timing.runS * 1000) / count,
          });
          await store.create(job);
          ids.push(id);
        }),
      );
    }
  } finally {
    await store.close();
  }
  return { ids, firstCheckAt };
}

/** EVALSHA + EVAL calls so far on the bench's private Redis (nothing else uses it during the run). */
async function evalshaCalls(url: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  try {
    const info = await client.info("commandstats");
    const calls = (name: string) =>
      Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, "m").exec(info)?.[1] ?? 0);
    return calls("evalsha") + calls("eval");
  } finally {
    await client.close();
  }
}

export async function benchScale(ctx: BenchContext): Promise<SectionResult> {
  const count = ctx.smoke ? 60 : 1_000;
  const runS = ctx.smoke ? 6 : 60;
  const windowS = ctx.smoke ? 2 : 10;
  const warmupS = ctx.smoke ? 2 : 10;
  const prefix = ctx.prefix();
  const dataDir = ctx.dir("scale");
  const app = await startNext(
    ctx.builds.appDir,
    { ...APP_BASE_ENV, REDIS_URL: ctx.redis?.url ?? "", STORE_KEY_PREFIX: prefix, DATA_DIR: dataDir },
    APP_READY,
  );
  try {
    ctx.log(`  scale: writing ${count} active jobs…`);
    const { ids, firstCheckAt } = await seedJobs(ctx, { prefix, dataDir }, count, { warmupS, runS });
    const rate = count / POLL_EVERY_S;
    let next = 0;
    const nextPath = () => `/api/generation/status?jobId=${ids[next++ % ids.length]}`;
    const connections = ctx.smoke ? 10 : 50;
    const warmS = Math.max(1, (firstCheckAt - Date.now()) / 1000);
    ctx.log(`  scale: warming up, ${warmS.toFixed(1)} s at the same rate (not counted)…`);
    await runLoad({ url: app.url, connections, overallRate: Math.round(rate), durationS: warmS, nextPath });

    ctx.log(`  scale: ${rate.toFixed(0)} polls/s (each job every ${POLL_EVERY_S} s) for ${runS} s…`);
    const samples: ResponseSample[] = [];
    const scriptsBefore = await evalshaCalls(ctx.redis?.url ?? "");
    const appSampler = new ProcessSampler(app.pid);
    const redisSampler = new ProcessSampler(ctx.redis?.pid ?? 0);
    const resources: Array<{ appCores: number; appRssMb: number; redisCores: number }> = [];
    const timer = setInterval(() => {
      const appNow = appSampler.sample();
      resources.push({
        appCores: appNow.cores,
        appRssMb: appNow.rssMb,
        redisCores: redisSampler.sample().cores,
      });
    }, windowS * 1000);
    const load = await runLoad(
      {
        url: app.url,
        connections,
        overallRate: Math.round(rate),
        durationS: runS,
        nextPath,
      },
      (sample) => samples.push(sample),
    );
    clearInterval(timer);
    // A check of a running task is three scripts (lease, compare-and-set, release); a read-only poll, none.
    const checks = ((await evalshaCalls(ctx.redis?.url ?? "")) - scriptsBefore) / 3;

    const windows: Window[] = [];
    for (let w = 0; w < Math.floor(runS / windowS); w++) {
      const inWindow = samples.filter((s) => s.at >= w * windowS * 1000 && s.at < (w + 1) * windowS * 1000);
      const latency = summarize(inWindow.filter((s) => s.status < 300).map((s) => s.latencyMs));
      const used = resources[w];
      windows.push({
        fromS: w * windowS,
        polls: inWindow.length,
        failed: inWindow.filter((s) => s.status >= 300).length,
        p50Ms: latency.p50,
        p99Ms: latency.p99,
        appCores: used?.appCores ?? Number.NaN,
        appRssMb: used?.appRssMb ?? Number.NaN,
        redisCores: used?.redisCores ?? Number.NaN,
      });
    }
    const failedEvents = [...app.events].filter(([event]) => /failed|timed_out/.test(event));
    const failures = load.non2xx + load.errors + load.timeouts;
    const p99s = windows.map((w) => w.p99Ms);
    const cores = windows.map((w) => w.appCores);
    const first = windows[0];
    const last = windows.at(-1);
    // "Flat": no window's p99 over 1.5× the median window's, CPU within ±25% of the median window's,
    // and resident memory growing less than 10% from the first window to the last.
    const p99Spread = Math.max(...p99s) / median(p99s);
    const cpuSpread = Math.max(...cores.map((c) => Math.abs(c / median(cores) - 1)));
    const rssGrowth = last && first ? last.appRssMb / first.appRssMb - 1 : Number.NaN;
    const rows: Row[] = [
      {
        section: SECTION,
        measure: `${count} jobs × 1 poll/${POLL_EVERY_S} s for ${runS} s: polls/s served`,
        unit: "req/s",
        figure: load.rps,
        baseline: rate,
        ratio: load.rps / rate,
        met: null,
      },
      {
        section: SECTION,
        measure: "provider checks during the run (lease + check + compare-and-set)",
        unit: "",
        figure: checks,
        baseline: count,
        met: null,
      },
      { section: SECTION, measure: "p99 over the run", unit: "ms", figure: load.latency.p99, met: null },
      {
        section: SECTION,
        measure: "worst window p99 ÷ median window p99",
        unit: "×",
        figure: p99Spread,
        target: "≤ 1.5",
        met: p99Spread <= 1.5,
      },
      {
        section: SECTION,
        measure: `app CPU, median of ${windowS}-s windows`,
        unit: "cores",
        figure: median(cores),
        met: null,
      },
      {
        section: SECTION,
        measure: "app CPU, worst window's deviation from the median",
        unit: "",
        figure: cpuSpread,
        target: "≤ 0.25",
        met: cpuSpread <= 0.25,
      },
      {
        section: SECTION,
        measure: "app RSS, first window → last",
        unit: "MB",
        figure: last?.appRssMb ?? Number.NaN,
        baseline: first?.appRssMb,
        ratio: rssGrowth + 1,
        target: "≤ 1.1×",
        met: rssGrowth <= 0.1,
      },
      {
        section: SECTION,
        measure: "failed polls + failure events in the app's log",
        unit: "",
        figure: failures + failedEvents.reduce((sum, [, n]) => sum + n, 0),
        target: "0",
        met: failures === 0 && failedEvents.length === 0,
      },
    ];
    return {
      rows,
      details: {
        jobs: count,
        runS,
        windowS,
        providerChecks: checks,
        load: { ...load, samples: undefined },
        windows,
        failedEvents: Object.fromEntries(failedEvents),
        appEvents: Object.fromEntries(app.events),
      },
    };
  } finally {
    await app.stop();
  }
}
