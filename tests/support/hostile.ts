import { appendFileSync, mkdirSync, readdirSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { expect } from "vitest";
import { listLocalTasks } from "@/lib/providers/local";
import type { PublicJob } from "@/lib/public-job";

/** The credentials the emulator wiring hands the app: none may ever reach a browser. */
export const TEST_SECRETS = ["test-openai-key", "test-access", "test-secret", "test-replicate-token"];

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isUuidV4(value: unknown): boolean {
  return typeof value === "string" && UUID_V4.test(value);
}

/** Things that must not appear in anything a browser receives, whatever went wrong. */
const LEAK_PATTERNS: Array<[string, RegExp]> = [
  ["an absolute URL", /\b(?:https?|file|redis|rediss):\/\//i],
  ["a loopback address", /127\.0\.0\.1|localhost|\[::1\]/i],
  ["a host:port", /\b(?:[a-z0-9-]+\.)+[a-z]{2,}:\d{2,5}\b/i],
  ["a stack frame", /\n\s*at\s|\bat\s+\S+\s+\([^)]*:\d+:\d+\)/],
  ["an error class name", /\b(?:Type|Reference|Syntax|Range|Zod|Abort|Timeout|Provider|Kling\w*)Error\b/],
  ["a server path", /(?:\/tmp\/|\/work\/|node_modules|\.next\/|\.tsx?\b|jobs\.db)/],
  ["an OpenAI response id", /\bresp_[0-9a-f]{8,}/],
  ["a Replicate prediction id", /\b[0-9a-z]{26}\b/],
  ["a bearer token", /\bBearer\s/i],
];

/** Asserts `text` (a response body, an error message) leaks no secret, internal URL, id or stack. */
export function expectNoLeaks(text: string, extra: string[] = []): void {
  for (const secret of [...TEST_SECRETS, ...extra]) {
    if (secret) expect(text, `leaks ${JSON.stringify(secret)}`).not.toContain(secret);
  }
  for (const [what, pattern] of LEAK_PATTERNS) {
    expect(text, `contains ${what}`).not.toMatch(pattern);
  }
}

/**
 * A job's error as a person reads it: a few plain sentences — capitalised, ending in a full stop —
 * with no vendor code ("1302", "429"), no snake_case code, no JSON, and nothing expectNoLeaks forbids.
 */
export function expectReadableSentence(message: unknown, extra: string[] = []): void {
  expect(typeof message).toBe("string");
  const text = message as string;
  expect(text.length, text).toBeGreaterThan(15);
  expect(text.length, text).toBeLessThan(300);
  expect(text, "starts with a capital letter").toMatch(/^[A-Z]/);
  expect(text, "ends a sentence").toMatch(/[.!]$/);
  expect(text, "has a status or vendor code").not.toMatch(/\b(?:[1-5]\d\d|\d{4,})\b/);
  expect(text, "has a machine code").not.toMatch(/\b[a-z]+_[a-z_]+\b/);
  expect(text, "has JSON or markup").not.toMatch(/[{}<>[\]]|\bundefined\b|\bnull\b|HTTP|JSON/);
  expectNoLeaks(text, extra);
}

/**
 * Asserts an API error answer: the status, `{ error, code }` JSON, and a readable, leak-free sentence.
 * `label` names the case in failure messages.
 */
export async function expectApiError(
  response: Response,
  status: number | number[],
  code: string | string[],
  label = "",
): Promise<{ error: string; code: string }> {
  const raw = await response.text();
  const statuses = Array.isArray(status) ? status : [status];
  const codes = Array.isArray(code) ? code : [code];
  const what = `${label} → HTTP ${response.status}: ${raw.slice(0, 300)}`;
  expect(statuses, what).toContain(response.status);
  expect(response.headers.get("content-type") ?? "", what).toContain("application/json");
  const body = JSON.parse(raw) as { error: string; code: string };
  expect(Object.keys(body).sort(), what).toEqual(["code", "error"]);
  expect(codes, what).toContain(body.code);
  expect(body.error.length, what).toBeGreaterThan(10);
  expectNoLeaks(raw);
  return body;
}

/** Every file under `dir`, relative and sorted (empty when the folder does not exist). */
export function listFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => `${entry.parentPath.slice(dir.length)}/${entry.name}`)
      .sort();
  } catch {
    return [];
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const isFinished = (job: PublicJob) => job.status === "completed" || job.status === "failed";

/** The value at fraction `p` (0–1) of the sorted numbers; 0 for none. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

/** Where each run's measured figures go (one JSON line per test), for docs/reliability.md. */
export const REPORT_FILE = path.resolve(import.meta.dirname, "../../.tmp/hostile-results.jsonl");

/** Records one test's measured figures: printed, and appended to REPORT_FILE. */
export function report(test: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ at: new Date().toISOString(), test, ...figures });
  console.info(`[hostile] ${line}`);
  mkdirSync(path.dirname(REPORT_FILE), { recursive: true });
  appendFileSync(REPORT_FILE, `${line}\n`);
}

/** Distinct garment colours make every job's images (and so Replicate's per-input count) distinct. */
export const colour = (i: number) => `#${(0x203040 + i * 0x1f2b17).toString(16).slice(-6)}`;

/** The few commands cutLeases needs, from any node-redis client. */
export interface RedisKeyCommands {
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[] | string>;
  pTTL(key: string): Promise<number>;
  pExpire(key: string, ms: number): Promise<unknown>;
}

/**
 * Cuts every job lease under `prefix` to at most `maxMs` and returns how many it cut. For leases left
 * by a process that is gone (killed, or whose release never reached the store): they would otherwise
 * block their job for the advance's whole lease time (60 s).
 */
export async function cutLeases(redis: RedisKeyCommands, prefix: string, maxMs: number): Promise<number> {
  let cut = 0;
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}:lease:*`, COUNT: 500 })) {
    for (const key of ([] as string[]).concat(keys)) {
      if ((await redis.pTTL(key)) > maxMs) {
        await redis.pExpire(key, maxMs);
        cut++;
      }
    }
  }
  return cut;
}

/** Offline-studio submits recorded for a job, per step: each must be exactly one. */
export async function localSubmitsByStep(dataDir: string, jobId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const task of await listLocalTasks(path.join(dataDir, "local-studio"))) {
    if (!task.idempotencyKey.startsWith(jobId)) continue;
    const step = task.idempotencyKey.slice(jobId.length + 1).replace(/-\d+$/, "");
    counts[step] = (counts[step] ?? 0) + 1;
  }
  return counts;
}

/** A job polled to its end, with every answer's latency: what one patient browser tab saw. */
export interface PolledJob {
  final: PublicJob;
  latenciesMs: number[];
  /** Every status the job showed, in order, without repeats. */
  statuses: PublicJob["status"][];
  /** Every answer's body, as received. */
  bodies: string[];
}

/**
 * Polls a job every `intervalMs` until it finishes, checking each answer is a leak-free 200;
 * `extraSecrets` are further strings no answer may contain.
 */
export async function pollRecording(
  baseUrl: string,
  jobId: string,
  options: { intervalMs?: number; timeoutMs?: number; extraSecrets?: string[] } = {},
): Promise<PolledJob> {
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  const latenciesMs: number[] = [];
  const statuses: PublicJob["status"][] = [];
  const bodies: string[] = [];
  for (;;) {
    const started = Date.now();
    const response = await fetch(`${baseUrl}/api/generation/status?jobId=${jobId}`);
    const text = await response.text();
    latenciesMs.push(Date.now() - started);
    bodies.push(text);
    expect(response.status, text).toBe(200);
    expectNoLeaks(text, options.extraSecrets);
    const job = JSON.parse(text) as PublicJob;
    if (statuses.at(-1) !== job.status) statuses.push(job.status);
    if (isFinished(job)) return { final: job, latenciesMs, statuses, bodies };
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after the timeout`);
    await sleep(options.intervalMs ?? 200);
  }
}

/**
 * Sends `rawPath` exactly as written (fetch would resolve `..` and re-encode it first), and returns
 * the answer as a fetch Response.
 */
export function rawRequest(baseUrl: string, rawPath: string, method = "GET"): Promise<Response> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const request = http.request({ hostname, port, path: rawPath, method }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on("data", (chunk: Buffer) => chunks.push(chunk));
      answer.on("end", () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
        }
        const status = answer.statusCode ?? 0;
        const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
        resolve(new Response(body, { status, headers }));
      });
      answer.on("error", reject);
    });
    request.on("error", reject);
    request.end();
  });
}

/**
 * Starts a POST declaring `declaredBytes` of body, writes its first `burstBytes` of 0xFF at once and
 * waits for the answer without sending the rest; resolves with the answer and what was sent.
 *
 * One burst, because a refusal on the declared length needs no more, and because a client that
 * writes again after the server refused and closed can lose the answer: the server's close resets
 * the connection, and Node drops the unread answer when its next write fails (EPIPE). Under load
 * that happened to a client streaming until answered about once in 40 requests.
 */
export function uploadDeclared(
  baseUrl: string,
  rawPath: string,
  headers: Record<string, string>,
  declaredBytes: number,
  burstBytes = 1024 * 1024,
): Promise<{ response: Response; bytesSent: number }> {
  const { hostname, port } = new URL(baseUrl);
  const bytesSent = Math.min(burstBytes, declaredBytes);
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = http.request(
      {
        hostname,
        port,
        path: rawPath,
        method: "POST",
        headers: { ...headers, "content-length": declaredBytes },
      },
      (answer) => {
        answered = true;
        const chunks: Buffer[] = [];
        answer.on("data", (data: Buffer) => chunks.push(data));
        // An answer cut after its headers ends without "end": fail at once rather than at the timeout.
        answer.on("error", reject);
        answer.on("close", () => {
          if (!answer.complete) reject(new Error(`the answer (${answer.statusCode}) was cut short`));
        });
        answer.on("end", () => {
          const response = new Response(Buffer.concat(chunks), {
            status: answer.statusCode ?? 0,
            headers: Object.entries(answer.headers).flatMap(([name, value]) =>
              typeof value === "string" ? [[name, value] as [string, string]] : [],
            ),
          });
          request.destroy();
          resolve({ response, bytesSent });
        });
      },
    );
    // The server may cut the connection after answering: that is fine once the answer is in.
    request.on("error", (error) => {
      if (!answered) reject(error);
    });
    request.write(Buffer.alloc(bytesSent, 0xff));
    if (bytesSent >= declaredBytes) request.end();
  });
}
