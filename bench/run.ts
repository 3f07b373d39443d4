/**
 * `npm run bench` (full, several minutes) and `npm run bench:smoke` (seconds, for CI): builds the app
 * and the baseline app, runs each section against loopback servers it starts itself, prints the table
 * and writes the JSON to bench/results/. Exits 0 whatever the figures; non-zero only if the bench
 * itself crashed.
 *
 *   --smoke            one small case per section, no targets enforced
 *   --only=a,b         sections: poll-redis, poll-sqlite, round-trips, start, orchestration, realistic,
 *                      scale
 *   --reuse-build      keep the builds in .tmp/bench if they exist
 *   --app-dir=PATH     measure an existing build of the app instead of building a copy (CI passes the
 *                      repo, built once for the tests; or an experiment in a scratch copy)
 *   --warmup-jobs=N    orchestration/realistic: jobs run before the measured ones (default 10 / 5), in
 *                      batches of 5
 */
import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchOrchestration, benchRealistic } from "./sections/orchestration";
import { benchRoundTrips } from "./sections/round-trips";
import { benchScale } from "./sections/scale";
import { benchStart } from "./sections/start";
import { benchStatusPoll } from "./sections/status-poll";
import { buildApps } from "./support/build";
import { type BenchContext, createContext, type SectionResult } from "./support/context";
import { BENCH_TMP } from "./support/paths";
import { formatTable, machine, type Row, writeResults } from "./support/report";
import { hasRedisServer, type RedisServer, startRedis } from "./support/servers";

const SECTIONS: Record<string, { needsRedis: boolean; run: (ctx: BenchContext) => Promise<SectionResult> }> =
  {
    "poll-redis": { needsRedis: true, run: (ctx) => benchStatusPoll(ctx, "redis") },
    "poll-sqlite": { needsRedis: false, run: (ctx) => benchStatusPoll(ctx, "sqlite") },
    "round-trips": { needsRedis: true, run: benchRoundTrips },
    start: { needsRedis: false, run: benchStart },
    orchestration: { needsRedis: true, run: benchOrchestration },
    realistic: { needsRedis: true, run: benchRealistic },
    scale: { needsRedis: true, run: benchScale },
  };

function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

async function main(): Promise<void> {
  const smoke = process.argv.includes("--smoke");
  const only = option("only")?.split(",") ?? Object.keys(SECTIONS);
  const unknown = only.filter((name) => !(name in SECTIONS));
  if (unknown.length) throw new Error(`unknown section(s): ${unknown.join(", ")}`);
  const startedAt = new Date();
  const log = (line: string) =>
    console.log(`[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${line}`);

  const builds = await buildApps({
    reuse: process.argv.includes("--reuse-build"),
    appDir: option("app-dir"),
    log,
  });

  const runDir = path.join(BENCH_TMP, "run");
  rmSync(runDir, { recursive: true, force: true });
  let redis: RedisServer | null = null;
  if (only.some((name) => SECTIONS[name]?.needsRedis)) {
    if (hasRedisServer()) redis = await startRedis(path.join(runDir, "redis"));
    else log("*** redis-server is not installed: the Redis sections are skipped ***");
  }
  const ctx = createContext(runDir, { smoke, builds, redis, log, option });

  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  try {
    for (const name of only) {
      const section = SECTIONS[name];
      if (!section || (section.needsRedis && !redis)) continue;
      log(`${name}…`);
      const started = performance.now();
      // Other work on the machine moves every figure: the load average says how busy it was.
      const loadBefore = os.loadavg()[0];
      const result = await section.run(ctx);
      rows.push(...result.rows);
      details[name] = {
        ...result.details,
        seconds: (performance.now() - started) / 1000,
        loadAverage1m: { before: loadBefore, after: os.loadavg()[0] },
      };
    }
  } finally {
    await redis?.stop();
  }

  const table = formatTable(rows);
  console.log(`\n${table}\n`);
  for (const [name, detail] of Object.entries(details)) {
    const load = (detail as { loadAverage1m: { before: number; after: number } }).loadAverage1m;
    log(
      `${name}: machine load average (1 min) ${load.before.toFixed(1)} → ${load.after.toFixed(1)} on ${os.cpus().length} cores`,
    );
  }
  const file = writeResults(
    {
      startedAt: startedAt.toISOString(),
      smoke,
      argv: process.argv.slice(2),
      machine: machine(),
      rows,
      details,
    },
    smoke,
  );
  console.log(`[bench] results: ${path.relative(process.cwd(), file)}`);
  if (smoke) console.log("[bench] smoke run: figures are not comparable and no target is enforced.");
  rmSync(runDir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error("[bench] crashed:", error);
  process.exit(1);
});
