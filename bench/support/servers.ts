import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import { createClient } from "redis";
import { freePort } from "@/tests/support/app-server";
import { NEXT_BIN } from "./paths";
import { sleep } from "./stats";

/** A server the bench started: its own process, killed by its PID, never by name. */
export interface Server {
  url: string;
  pid: number;
  /** The last lines it printed. */
  tail(): string[];
  /** How many times each structured log event (`{"event": …}`) was printed. */
  events: Map<string, number>;
  /** Every structured log event printed, parsed, when started with `keepEvents`. */
  logged: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

const TAIL_LINES = 200;

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

function watchOutput(child: ChildProcess, keepEvents: boolean) {
  const lines: string[] = [];
  // BENCH_APP_LOG=<file>: every line the servers print goes there too (with BENCH_NODE_ARGS=--trace-gc, say).
  const logFile = process.env.BENCH_APP_LOG;
  const events = new Map<string, number>();
  const logged: Array<Record<string, unknown>> = [];
  const collect = (chunk: Buffer) => {
    if (logFile) appendFileSync(logFile, chunk);
    for (const line of chunk.toString().split("\n")) {
      if (!line) continue;
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
      const event = /^\{"at":"[^"]*","event":"([^"]+)"/.exec(line)?.[1];
      if (event) events.set(event, (events.get(event) ?? 0) + 1);
      if (event && keepEvents) logged.push(JSON.parse(line) as Record<string, unknown>);
    }
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  return { tail: () => [...lines], events, logged };
}

async function stopChild(child: ChildProcess): Promise<void> {
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited(child);
  clearTimeout(timer);
}

/**
 * `next start` of a built app on a free loopback port, as tests/support/app-server.ts does it: the
 * spawned PID is the server itself (its CPU and memory are read from /proc/<pid>). Ready when
 * `readyPath` answers `readyStatus`.
 */
export async function startNext(
  dir: string,
  env: Record<string, string>,
  ready: { path: string; status: number },
  options: { keepEvents?: boolean } = {},
): Promise<Server> {
  const port = await freePort();
  // BENCH_NODE_ARGS: node flags for experiments on the servers themselves (--trace-gc, a heap limit).
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  const args = [...nodeArgs, NEXT_BIN, "start", "-H", "127.0.0.1", "-p", String(port)];
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = watchOutput(child, options.keepEvents ?? false);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited early:\n${output.tail().join("\n")}`);
    const status = await fetch(`${url}${ready.path}`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === ready.status) break;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`next start did not answer in 30 s:\n${output.tail().join("\n")}`);
    }
    await sleep(100);
  }
  return { url, pid: child.pid ?? 0, ...output, stop: () => stopChild(child) };
}

export interface RedisServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Whether `redis-server` can be run here. */
export function hasRedisServer(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * A private redis-server on a free loopback port (no persistence), so that INFO commandstats counts
 * only the bench's traffic and nobody else's tests share the bench's Redis.
 */
export async function startRedis(dir: string): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = createClient({ url, socket: { reconnectStrategy: false } });
    client.on("error", () => {});
    const up = await client.connect().then(
      async () => (await client.ping()) === "PONG",
      () => false,
    );
    if (client.isOpen) client.destroy();
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await sleep(100);
  }
  return { url, pid: child.pid ?? 0, stop: () => stopChild(child) };
}
