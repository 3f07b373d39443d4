import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface AppServer {
  url: string;
  dataDir: string;
  /** The server's process id (`next start` runs the server itself): its /proc entry shows its memory. */
  pid: number;
  /** Lines the server printed, for assertions on logs and for failure reports. */
  output: string[];
  /** Stops the server (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Kills the process at once, as a crash would. */
  kill(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `style-studio-${prefix}-`));
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/**
 * Starts the built app with `next start` (the real server) on a free port, with the offline
 * providers and a private data folder unless `env` says otherwise. Pass `port` (from freePort())
 * when the app must know its own URL beforehand, as PUBLIC_BASE_URL.
 */
export async function startApp(
  env: Record<string, string> = {},
  dataDir = tempDir("data"),
  port?: number,
): Promise<AppServer> {
  port ??= await freePort();
  const child = spawn(
    process.execPath,
    ["node_modules/next/dist/bin/next", "start", "-H", "127.0.0.1", "-p", String(port)],
    {
      cwd: path.resolve(import.meta.dirname, "../.."),
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        NODE_ENV: "production",
        NEXT_TELEMETRY_DISABLED: "1",
        DATA_DIR: dataDir,
        LOCAL_STUDIO_STEP_MS: "300",
        START_RATE_LIMIT: "0",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output: string[] = [];
  const collect = (chunk: Buffer) => output.push(...chunk.toString().split("\n").filter(Boolean));
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited early:\n${output.join("\n")}`);
    try {
      const response = await fetch(`${url}/api/generation/status`);
      if (response.status === 400) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`next start did not answer in 30 s:\n${output.join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url,
    dataDir,
    pid: child.pid ?? 0,
    output,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited(child);
      clearTimeout(timer);
    },
    async kill() {
      child.kill("SIGKILL");
      await exited(child);
    },
  };
}
