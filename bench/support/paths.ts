import path from "node:path";

/** The repository this bench lives in. */
export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
/** The bench's scratch space: builds, data folders, photos (inside the repo so node_modules resolves). */
export const BENCH_TMP = path.join(REPO_ROOT, ".tmp", "bench");
export const RESULTS_DIR = path.join(REPO_ROOT, "bench", "results");
export const NEXT_BIN = path.join(REPO_ROOT, "node_modules", "next", "dist", "bin", "next");
