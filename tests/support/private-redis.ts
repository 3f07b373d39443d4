import { type ChildProcess, spawn } from "node:child_process";
import { createClient } from "redis";
import { freePort, tempDir } from "@/tests/support/app-server";

/** A redis-server of the test's own, on a private port: stopping it never touches the shared one. */
export interface PrivateRedis {
  port: number;
  url: string;
  /** Stops the server (SIGTERM) and waits for it to exit; data survives only when `persistent`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it answers. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and nothing answers, as in a hung server. */
  pause(): void;
  /** Thaws a paused server (SIGCONT). */
  resume(): void;
  readonly running: boolean;
}

const START_TIMEOUT_MS = 10_000;

async function waitUntilAnswering(url: string): Promise<void> {
  const probe = createClient({ url, socket: { reconnectStrategy: 50, connectTimeout: 1_000 } });
  probe.on("error", () => {});
  const timer = setTimeout(() => probe.destroy(), START_TIMEOUT_MS);
  try {
    await probe.connect();
    await probe.ping();
  } finally {
    clearTimeout(timer);
    if (probe.isOpen) await probe.close();
  }
}

function exited(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => server.once("exit", () => resolve()));
}

/**
 * Starts `redis-server` on a free port (or `port`), bound to 127.0.0.1. `persistent` keeps the data
 * across stop/start (an append-only file synced on every write, in a temp folder); otherwise none.
 */
export async function startPrivateRedis(
  options: { port?: number; persistent?: boolean } = {},
): Promise<PrivateRedis> {
  const chosen = options.port ?? (await freePort());
  const url = `redis://127.0.0.1:${chosen}`;
  const args = ["--port", String(chosen), "--bind", "127.0.0.1", "--save", ""];
  if (options.persistent) {
    args.push("--appendonly", "yes", "--appendfsync", "always", "--dir", tempDir("redis"));
  } else args.push("--appendonly", "no");
  let server: ChildProcess | null = null;

  const start = async () => {
    if (server) return;
    const child = spawn("redis-server", args, { stdio: "ignore" });
    server = child;
    child.once("exit", () => {
      if (server === child) server = null;
    });
    await waitUntilAnswering(url);
  };

  await start();
  return {
    port: chosen,
    url,
    start,
    async stop() {
      const running = server;
      if (!running) return;
      running.kill("SIGTERM");
      // A paused server only acts on the SIGTERM once it runs again.
      running.kill("SIGCONT");
      await exited(running);
      server = null;
    },
    pause: () => server?.kill("SIGSTOP"),
    resume: () => server?.kill("SIGCONT"),
    get running() {
      return server !== null;
    },
  };
}
