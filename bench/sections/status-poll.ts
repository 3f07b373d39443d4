import path from "node:path";
import type { PublicJob } from "@/lib/public-job";
import { keysFor } from "@/lib/store/keys";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { getStatus, pollUntilDone, startJobOver } from "@/tests/support/poll";
import {
  APP_BASE_ENV,
  APP_READY,
  BASELINE_READY,
  type BenchContext,
  type SectionResult,
} from "../support/context";
import { type LoadResult, mergeLoads, reportLoad, runLoad } from "../support/load";
import { cpuSeconds } from "../support/proc";
import { ratioRow } from "../support/report";
import { type Server, startNext } from "../support/servers";
import { sleep } from "../support/stats";

/**
 * 1. The status poll: the app's status route for (a) a job whose next provider check is far ahead and
 * (b) a finished job, against the baseline app's bare route doing one read of the same record from the
 * same store. Rounds alternate baseline and app, so drift (another process, thermal) hits both.
 */

type StoreKind = "redis" | "sqlite";

const LONG_STEP_MS = "600000";

async function untilWaiting(url: string, jobId: string): Promise<PublicJob> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = await getStatus(url, jobId);
    // The first step is submitted (by the start's after()) and its check is 10 minutes away.
    if (job.status === "pending" && (job.pollAfterMs ?? 0) >= 5_000) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} never reached a waiting step`);
    await sleep(100);
  }
}

async function smallForm(occasion: string) {
  return startForm({ person: await personPhoto(), garment: await garmentPhoto(), occasion });
}

export async function benchStatusPoll(ctx: BenchContext, store: StoreKind): Promise<SectionResult> {
  const dataDir = ctx.dir(`poll-${store}`);
  const prefix = ctx.prefix();
  if (store === "redis" && !ctx.redis) throw new Error("no Redis");
  const storeEnv: Record<string, string> =
    store === "redis" ? { REDIS_URL: ctx.redis?.url ?? "", STORE_KEY_PREFIX: prefix } : {};
  const env = { ...APP_BASE_ENV, ...storeEnv, DATA_DIR: dataDir };

  // A finished job, made for real by an app whose steps are quick; then the app that is measured.
  ctx.log(`  poll/${store}: making a finished job…`);
  const quick = await startNext(ctx.builds.appDir, { ...env, LOCAL_STUDIO_STEP_MS: "100" }, APP_READY);
  const finishedId = await startJobOver(quick.url, await smallForm("Finished job"));
  const { final } = await pollUntilDone([quick.url], finishedId, { intervalMs: 100 });
  await quick.stop();
  if (final.status !== "completed") throw new Error(`the finished job ended ${final.status}`);

  const servers: Server[] = [];
  try {
    const app = await startNext(ctx.builds.appDir, { ...env, LOCAL_STUDIO_STEP_MS: LONG_STEP_MS }, APP_READY);
    servers.push(app);
    const waitingId = await startJobOver(app.url, await smallForm("Waiting job"));
    await untilWaiting(app.url, waitingId);
    const baselineEnv: Record<string, string> =
      store === "redis"
        ? { BASELINE_REDIS_URL: ctx.redis?.url ?? "" }
        : { BASELINE_SQLITE_FILE: path.join(dataDir, "jobs.db") };
    const baseline = await startNext(ctx.builds.baselineDir, baselineEnv, BASELINE_READY);
    servers.push(baseline);

    const keyOf = (jobId: string) => (store === "redis" ? keysFor(prefix).job(jobId) : jobId);
    const targets = {
      waiting: `${app.url}/api/generation/status?jobId=${waitingId}`,
      waitingBaseline: `${baseline.url}/api/read?key=${encodeURIComponent(keyOf(waitingId))}`,
      finished: `${app.url}/api/generation/status?jobId=${finishedId}`,
      finishedBaseline: `${baseline.url}/api/read?key=${encodeURIComponent(keyOf(finishedId))}`,
    };
    const connections = ctx.smoke ? 10 : 50;
    const seconds = ctx.smoke ? 1 : 3;
    const rounds = ctx.smoke ? 1 : 6;

    ctx.log(`  poll/${store}: warming up…`);
    for (const url of Object.values(targets)) {
      await runLoad({ url, connections, durationS: ctx.smoke ? 0.5 : 2 });
    }
    const runs: Record<keyof typeof targets, LoadResult[]> = {
      waiting: [],
      waitingBaseline: [],
      finished: [],
      finishedBaseline: [],
    };
    // CPU seconds each server spent on each target: less sensitive to other load on the machine than
    // latency or throughput, since it counts only the server's own work.
    const cpu: Record<keyof typeof targets, number> = {
      waiting: 0,
      waitingBaseline: 0,
      finished: 0,
      finishedBaseline: 0,
    };
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so neither side always runs on a warmer machine.
      const order = (Object.keys(targets) as Array<keyof typeof targets>).slice();
      if (round % 2 === 1) order.reverse();
      for (const name of order) {
        ctx.log(
          `  poll/${store}: round ${round + 1}/${rounds}, ${name} (${connections} connections, ${seconds} s)`,
        );
        const pid = name.endsWith("Baseline") ? baseline.pid : app.pid;
        const cpuBefore = cpuSeconds(pid);
        runs[name].push(await runLoad({ url: targets[name], connections, durationS: seconds }));
        cpu[name] += cpuSeconds(pid) - cpuBefore;
      }
    }
    // The measured job must still be waiting: otherwise case (a) measured something else.
    const after = await getStatus(app.url, waitingId);
    if (after.status !== "pending") throw new Error(`the waiting job moved on (${after.status})`);

    const merged = {
      waiting: mergeLoads(runs.waiting),
      waitingBaseline: mergeLoads(runs.waitingBaseline),
      finished: mergeLoads(runs.finished),
      finishedBaseline: mergeLoads(runs.finishedBaseline),
    };
    const section = `1 poll (${store})`;
    const cpuMs = (name: keyof typeof targets) => (cpu[name] * 1000) / merged[name].responses;
    const rows = (label: string, measured: LoadResult, base: LoadResult, cpuPair: [number, number]) => [
      ratioRow(section, `${label}: throughput`, "req/s", measured.rps, base.rps, { atLeast: 0.8 }),
      ratioRow(section, `${label}: p99`, "ms", measured.latency.p99, base.latency.p99, { atMost: 1.5 }),
      {
        section,
        measure: `${label}: p50`,
        unit: "ms",
        figure: measured.latency.p50,
        baseline: base.latency.p50,
        ratio: measured.latency.p50 / base.latency.p50,
        met: null,
      },
      {
        section,
        measure: `${label}: server CPU per request`,
        unit: "ms",
        figure: cpuPair[0],
        baseline: cpuPair[1],
        ratio: cpuPair[0] / cpuPair[1],
        met: null,
      },
    ];
    const failures = Object.values(merged).reduce(
      (sum, run) => sum + run.non2xx + run.errors + run.timeouts,
      0,
    );
    return {
      rows: [
        ...rows("in progress, nothing due", merged.waiting, merged.waitingBaseline, [
          cpuMs("waiting"),
          cpuMs("waitingBaseline"),
        ]),
        ...rows("finished job", merged.finished, merged.finishedBaseline, [
          cpuMs("finished"),
          cpuMs("finishedBaseline"),
        ]),
        {
          section,
          measure: "failed requests (non-2xx, errors, timeouts)",
          unit: "",
          figure: failures,
          target: "0",
          met: failures === 0,
        },
      ],
      details: {
        store,
        connections,
        secondsPerRun: seconds,
        rounds,
        serverCpuMsPerRequest: Object.fromEntries(
          (Object.keys(cpu) as Array<keyof typeof targets>).map((name) => [name, cpuMs(name)]),
        ),
        results: Object.fromEntries(Object.entries(merged).map(([name, run]) => [name, reportLoad(run)])),
        appEvents: Object.fromEntries(app.events),
      },
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}
