import net from "node:net";
import { createClient } from "redis";
import { sleep } from "./stats";

/**
 * Counting what a request costs in Redis. `INFO commandstats` counts every command, including those a
 * Lua script runs inside Redis (the GET inside compare-and-set counts as a GET); MONITOR tells the two
 * apart (`[0 lua]` vs the client's address), so round trips — commands the app itself sent — come
 * from MONITOR, and the commandstats delta is reported beside them as a cross-check.
 */

type Counts = Record<string, number>;

const connectTo = (url: string) => createClient({ url });
type Client = ReturnType<typeof connectTo>;

export interface RedisCost<T> {
  result: T;
  /** Commands the app sent (one round trip each), by name. */
  roundTrips: Counts;
  /** Commands Lua scripts ran inside Redis, by name (no round trip). */
  inScripts: Counts;
  /** INFO commandstats calls, after minus before, the bench's own commands left out. */
  commandstats: Counts;
}

export const total = (counts: Counts) => Object.values(counts).reduce((sum, n) => sum + n, 0);

const BENCH_COMMANDS = new Set(["info", "echo", "client|info", "ping", "monitor", "hello", "client|setinfo"]);

function parseCommandstats(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1] ?? "", Number(match[2]));
  }
  return calls;
}

export class RedisCostMeter {
  private readonly lines: string[] = [];
  private markers = 0;

  private constructor(
    private readonly client: Client,
    private readonly monitor: net.Socket,
    private readonly ownAddress: string,
  ) {}

  static async open(url: string): Promise<RedisCostMeter> {
    const client = connectTo(url);
    await client.connect();
    const info = String(await client.sendCommand(["CLIENT", "INFO"]));
    const ownAddress = /\baddr=(\S+)/.exec(info)?.[1] ?? "";
    const { hostname, port } = new URL(url);
    const monitor = net.connect(Number(port), hostname);
    const meter = new RedisCostMeter(client, monitor, ownAddress);
    let pending = "";
    monitor.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split("\r\n");
      pending = parts.pop() ?? "";
      meter.lines.push(...parts);
    });
    monitor.write("MONITOR\r\n");
    await meter.waitFor((line) => line === "+OK");
    return meter;
  }

  private async waitFor(match: (line: string) => boolean, timeoutMs = 5_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.lines.findIndex(match);
      if (index >= 0) return index;
      if (Date.now() > deadline) throw new Error("MONITOR did not show the expected line");
      await sleep(5);
    }
  }

  /** Marks the MONITOR stream and returns the marker's line index. */
  private async mark(): Promise<number> {
    const marker = `bench-marker-${++this.markers}`;
    await this.client.sendCommand(["ECHO", marker]);
    return this.waitFor((line) => line.includes(`"${marker}"`));
  }

  private async commandstats(): Promise<Map<string, number>> {
    return parseCommandstats(await this.client.info("commandstats"));
  }

  /** Runs `work` and counts the Redis commands it caused; `settleMs` lets after() work finish. */
  async measure<T>(work: () => Promise<T>, settleMs = 150): Promise<RedisCost<T>> {
    const before = await this.commandstats();
    const start = await this.mark();
    const result = await work();
    await sleep(settleMs);
    const end = await this.mark();
    const after = await this.commandstats();

    const roundTrips: Counts = {};
    const inScripts: Counts = {};
    for (const line of this.lines.slice(start + 1, end)) {
      const parsed = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
      if (!parsed) continue;
      const [, source = "", name = ""] = parsed;
      if (source === this.ownAddress) continue;
      const bucket = source === "lua" ? inScripts : roundTrips;
      const command = name.toLowerCase();
      bucket[command] = (bucket[command] ?? 0) + 1;
    }
    this.lines.splice(0, end + 1);

    const commandstats: Counts = {};
    for (const [name, calls] of after) {
      const delta = calls - (before.get(name) ?? 0);
      if (delta > 0 && !BENCH_COMMANDS.has(name)) commandstats[name] = delta;
    }
    return { result, roundTrips, inScripts, commandstats };
  }

  /** A GET from the bench's own connection (left out of every count). */
  get(key: string): Promise<string | null> {
    return this.client.get(key).then((value) => (typeof value === "string" ? value : null));
  }

  async close(): Promise<void> {
    this.monitor.destroy();
    await this.client.close();
  }
}
