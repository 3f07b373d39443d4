import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { APP_BASE_ENV, APP_READY, type BenchContext, type SectionResult } from "../support/context";
import { runLoad } from "../support/load";
import { REPO_ROOT } from "../support/paths";
import { type PhotoPair, photoPair, startBody } from "../support/photos";
import { memory } from "../support/proc";
import { type Row, ratioRow } from "../support/report";
import { startNext } from "../support/servers";
import { sleep, summarize } from "../support/stats";

/**
 * 3. Start: one client uploading two photos at a time (12 MP each, then 1.5 MP each), a pause after
 * each answer so the start's own background work (the first step's submit) does not bleed into the
 * next one. Each size gets a fresh server, so its peak memory (VmHWM) is that size's. Baseline: sharp
 * alone, in its own process, doing the same decode-resize-encode (bench/support/sharp-baseline.ts).
 */

const SECTION = "3 start";
const GAP_MS = 300;

interface Case {
  pair: PhotoPair;
  warmup: number;
  iterations: number;
}

async function sharpBaseline(ctx: BenchContext, c: Case) {
  const dir = ctx.dir("sharp-baseline");
  const files = [path.join(dir, "person.jpg"), path.join(dir, "garment.jpg")];
  writeFileSync(files[0] ?? "", c.pair.person);
  writeFileSync(files[1] ?? "", c.pair.garment);
  const args = JSON.stringify({ files, warmup: c.warmup, iterations: c.iterations, gapMs: GAP_MS });
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", path.join(REPO_ROOT, "bench/support/sharp-baseline.ts"), args],
    { cwd: REPO_ROOT, maxBuffer: 10 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
    latenciesMs: number[];
    peakMb: number;
    rssMb: number;
  };
  return { latency: summarize(result.latenciesMs), peakMb: result.peakMb };
}

async function appStarts(ctx: BenchContext, c: Case) {
  const app = await startNext(
    ctx.builds.appDir,
    // Steps never finish during the run: the start's own work is all that happens.
    { ...APP_BASE_ENV, DATA_DIR: ctx.dir("start"), LOCAL_STUDIO_STEP_MS: "600000" },
    APP_READY,
  );
  try {
    const idle = memory(app.pid);
    const { body, contentType } = await startBody(c.pair);
    const latencies: number[] = [];
    let failures = 0;
    for (let i = 0; i < c.warmup + c.iterations; i++) {
      const run = await runLoad({
        url: `${app.url}/api/generation/start`,
        method: "POST",
        body,
        headers: { "content-type": contentType },
        connections: 1,
        amount: 1,
        timeoutS: 60,
      });
      failures += run.non2xx + run.errors + run.timeouts;
      if (i >= c.warmup) latencies.push(...run.samples);
      await sleep(GAP_MS);
    }
    return { latency: summarize(latencies), idleMb: idle.rssMb, peakMb: memory(app.pid).peakMb, failures };
  } finally {
    await app.stop();
  }
}

export async function benchStart(ctx: BenchContext): Promise<SectionResult> {
  ctx.log("  start: making the photos (cached in .tmp/bench/photos)…");
  const cases: Case[] = ctx.smoke
    ? [{ pair: await photoPair("1.5 MP", 1500, 1000), warmup: 1, iterations: 3 }]
    : [
        { pair: await photoPair("12 MP", 4000, 3000), warmup: 2, iterations: 20 },
        { pair: await photoPair("1.5 MP", 1500, 1000), warmup: 3, iterations: 40 },
      ];
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  for (const c of cases) {
    const label = `two ${c.pair.label} photos`;
    ctx.log(`  start: ${label}, app (${c.iterations} starts)…`);
    const app = await appStarts(ctx, c);
    ctx.log(`  start: ${label}, sharp alone…`);
    const base = await sharpBaseline(ctx, c);
    rows.push(
      ratioRow(SECTION, `${label}: p50`, "ms", app.latency.p50, base.latency.p50, { atMost: 1.3 }),
      ratioRow(SECTION, `${label}: p99`, "ms", app.latency.p99, base.latency.p99, { atMost: 1.3 }),
      {
        section: SECTION,
        measure: `${label}: peak memory (VmHWM; idle ${Math.round(app.idleMb)} MB)`,
        unit: "MB",
        figure: app.peakMb,
        baseline: base.peakMb,
        ratio: app.peakMb / base.peakMb,
        met: null,
      },
      {
        section: SECTION,
        measure: `${label}: failed starts`,
        unit: "",
        figure: app.failures,
        target: "0",
        met: app.failures === 0,
      },
    );
    details[c.pair.label] = {
      photoBytes: { person: c.pair.person.length, garment: c.pair.garment.length },
      iterations: c.iterations,
      gapMs: GAP_MS,
      app,
      sharpAlone: base,
    };
  }
  return { rows, details };
}
