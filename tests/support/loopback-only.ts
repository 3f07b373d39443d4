import { createRequire } from "node:module";
import path from "node:path";

export interface LoopbackGuard {
  /** What was blocked: a non-empty list means the code under test tried to leave loopback. */
  violations: string[];
  /** Connections let through: the host asked for, the address chosen, the port. */
  connections: Array<{ host: string; address: string; port: number | string }>;
  uninstall(): void;
}

export interface LoopbackGuardOptions {
  /** Pretend-public address → the loopback address of the test server standing in for it. */
  nat?: Record<string, string>;
  /** The port that replaces 443 for connections made through a lookup. */
  natPort?: number;
  /** Which addresses may be reached (default: 127.0.0.0/8 and ::1); the guard's own test narrows it. */
  allowed?: (address: string) => boolean;
  /** Print each blocked attempt to stderr. */
  log?: boolean;
}

const guard = createRequire(import.meta.url)("./loopback-only.cjs") as {
  install(options?: LoopbackGuardOptions): LoopbackGuard;
};

/** Keeps this process on 127.0.0.0/8 until uninstalled (see loopback-only.cjs). */
export const installLoopbackOnly = (options?: LoopbackGuardOptions): LoopbackGuard => guard.install(options);

/** NODE_OPTIONS that load the guard into a child process (the app under `next start`). */
export const LOOPBACK_ONLY_NODE_OPTIONS = `--require ${path.resolve(import.meta.dirname, "loopback-only-preload.cjs")}`;
