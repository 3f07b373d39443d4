import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BENCH_TMP, NEXT_BIN, REPO_ROOT } from "./paths";

/**
 * Production builds of the app and of the baseline app, each from a copy of its sources under
 * `.tmp/bench/`, so that another engineer's `next build` in the repo cannot swap `.next` under a
 * running benchmark, and the figures are those of the sources as they are now. Both copies sit inside
 * the repo, so Next takes the repo root (where the lockfile is) as its root and uses its node_modules.
 */
export interface Builds {
  appDir: string;
  baselineDir: string;
}

/** Top-level entries of the repo that the app's build does not need. */
const NOT_APP_SOURCES = new Set([
  ".git",
  ".next",
  ".data",
  ".tmp",
  ".ci",
  "node_modules",
  "bench",
  "tests",
  "docs",
  "scripts",
  "test-results",
  // A second lockfile would make Next guess its root; the copy uses the repo's node_modules.
  "package-lock.json",
  "tsconfig.tsbuildinfo",
]);

/** Empties `dir` but keeps its `.next` (Next's own cache makes a rebuild faster). */
function clearSources(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) {
    if (name !== ".next") rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

function nextBuild(dir: string, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const output: string[] = [];
    const child = spawn(process.execPath, [NEXT_BIN, "build"], {
      cwd: dir,
      env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      writeFileSync(logFile, output.join(""));
      if (code === 0) resolve();
      else reject(new Error(`next build in ${dir} failed (exit ${code}):\n${output.join("").slice(-3000)}`));
    });
  });
}

/**
 * Copies and builds both apps; with `reuse`, keeps builds that already exist. With `appDir`, measures
 * that build of the app instead (CI passes the repo, which `npm test` has just built) and builds only
 * the baseline.
 */
export async function buildApps(options: {
  reuse: boolean;
  appDir?: string;
  log: (line: string) => void;
}): Promise<Builds> {
  const appDir = options.appDir ? path.resolve(options.appDir) : path.join(BENCH_TMP, "app");
  const baselineDir = path.join(BENCH_TMP, "baseline-app");
  const built = (dir: string) => existsSync(path.join(dir, ".next", "BUILD_ID"));

  if (options.appDir && !built(appDir))
    throw new Error(`--app-dir=${options.appDir} has no production build`);
  if (!options.appDir && !(options.reuse && built(appDir))) {
    options.log("building the app (a copy of the working tree, in .tmp/bench/app)…");
    clearSources(appDir);
    for (const name of readdirSync(REPO_ROOT)) {
      if (!NOT_APP_SOURCES.has(name))
        cpSync(path.join(REPO_ROOT, name), path.join(appDir, name), { recursive: true });
    }
    // Sources may name files in node_modules by relative path (next/font/local does): a link to the
    // repo's own node_modules, which is inside Turbopack's root, keeps those paths valid.
    symlinkSync(
      path.relative(appDir, path.join(REPO_ROOT, "node_modules")),
      path.join(appDir, "node_modules"),
    );
    await nextBuild(appDir, path.join(BENCH_TMP, "app-build.log"));
  }
  if (!(options.reuse && built(baselineDir))) {
    options.log("building the baseline app (bench/baseline-app, in .tmp/bench/baseline-app)…");
    clearSources(baselineDir);
    cpSync(path.join(REPO_ROOT, "bench", "baseline-app"), baselineDir, { recursive: true });
    await nextBuild(baselineDir, path.join(BENCH_TMP, "baseline-build.log"));
  }
  return { appDir, baselineDir };
}
