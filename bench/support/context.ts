import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Builds } from "./build";
import type { Row } from "./report";
import type { RedisServer } from "./servers";

/** What every section gets from the runner. */
export interface BenchContext {
  /** The tiny CI version: one small case per section, a few seconds each. */
  smoke: boolean;
  builds: Builds;
  /** The bench's private Redis, or null when redis-server is not installed. */
  redis: RedisServer | null;
  /** A fresh folder for this run. */
  dir(name: string): string;
  /** A fresh Redis key prefix, so no two runs (or tests) share keys. */
  prefix(): string;
  log(line: string): void;
  /** A `--name=value` command-line option. */
  option(name: string): string | undefined;
}

/** What a section hands back: table rows, and whatever detail goes to the JSON file. */
export interface SectionResult {
  rows: Row[];
  details: Record<string, unknown>;
}

export function createContext(
  runDir: string,
  parts: Pick<BenchContext, "smoke" | "builds" | "redis" | "log" | "option">,
): BenchContext {
  return {
    ...parts,
    dir(name) {
      const dir = path.join(runDir, `${name}-${randomBytes(3).toString("hex")}`);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    prefix: () => `bench-${randomBytes(4).toString("hex")}`,
  };
}

/** The environment every app run gets: no start rate limit and no cap on active jobs. */
export const APP_BASE_ENV = { START_RATE_LIMIT: "0", MAX_ACTIVE_JOBS: "0" } as const;

/** The status route answers 400 to a request without a job id: the app is up. */
export const APP_READY = { path: "/api/generation/status", status: 400 } as const;
/** The baseline route answers 400 without a key. */
export const BASELINE_READY = { path: "/api/read", status: 400 } as const;
