import { createHmac, randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { createClient } from "redis";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newWebhookSecret, signWebhook } from "@/tests/emulators/standard-webhooks";
import { type AppServer, freePort, startApp } from "@/tests/support/app-server";
import { expectApiError, report, sleep } from "@/tests/support/hostile";
import { type PrivateRedis, startPrivateRedis } from "@/tests/support/private-redis";
import { requireRedis } from "@/tests/support/redis";

/**
 * The edges of the app against `next start`: callbacks checked before their body is read and read
 * under a 1 MB cap, callback tokens that expire and name their job, the response headers, and store
 * errors logged with their cause.
 */

const CALLBACK_SECRET = "edges-callback-secret-0123456789abcdef";
const REPLICATE_SECRET = newWebhookSecret();
const OPENAI_SECRET = newWebhookSecret();
const JOB_A = "0b7d2f4e-8c1a-4b5e-9f3d-2a6c8e1b4d70";
const JOB_B = "5a1c9e3b-7d2f-4e8a-b6c4-1f9e3d7a2b58";
const MB = 1024 * 1024;
/** What "no memory jump" means for a 200 MB body the server refuses. */
const MEMORY_BUDGET_MB = 50;

const rssMb = (pid: number) => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? Number.NaN) / 1024;
};

/**
 * A callback URL's query as the app signs it, written here from the documented format so the two
 * check each other: base64url HMAC-SHA256 of "callback.v1\n{vendor}\n{jobId}\n{step}\n{expires}".
 */
function callbackQuery(vendor: string, jobId: string, options: { step?: string; expires?: number } = {}) {
  const step = options.step ?? (vendor === "kling" ? "style" : "faceswap");
  const expires = options.expires ?? Math.floor(Date.now() / 1000) + 3600;
  const token = createHmac("sha256", CALLBACK_SECRET)
    .update(`callback.v1\n${vendor}\n${jobId}\n${step}\n${expires}`)
    .digest("base64url");
  return new URLSearchParams({ jobId, step, expires: String(expires), token }).toString();
}

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** Body bytes the client had written when the answer's headers arrived. */
  bytesSent: number;
  ms: number;
}

/** A streamed body whose connection was reset before its answer could be read (see `stream`). */
interface Reset {
  status: "reset";
  bytesSent: number;
  ms: number;
}

const RESET_CODES = new Set(["EPIPE", "ECONNRESET"]);

/**
 * POSTs a JSON body (chunked, or with a Content-Length of `totalBytes` when `declared`) and resolves
 * with the server's answer. `write` sends the body; it is given a `sent(bytes)` to count with and an
 * `answered()` to stop on. A failed write before the answer rejects, unless `resetIsAnOutcome`.
 */
function post(
  url: string,
  headers: Record<string, string>,
  options: { totalBytes: number; declared?: boolean; resetIsAnOutcome?: boolean },
  write: (request: http.ClientRequest, sent: (bytes: number) => void, answered: () => boolean) => void,
): Promise<Answer | Reset> {
  const { totalBytes, declared = false, resetIsAnOutcome = false } = options;
  const framing = declared ? { "content-length": String(totalBytes) } : { "transfer-encoding": "chunked" };
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let bytesSent = 0;
    let answered = false;
    const request = http.request(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...framing, ...headers },
    });
    request.on("response", (response) => {
      answered = true;
      const sentBefore = bytesSent;
      const ms = Date.now() - started;
      const parts: Buffer[] = [];
      response.on("data", (part: Buffer) => parts.push(part));
      // An answer cut after its headers ends without "end": fail at once rather than at the test's timeout.
      response.on("error", reject);
      response.on("close", () => {
        if (!response.complete) reject(new Error(`the answer (${response.statusCode}) was cut short`));
      });
      response.on("end", () => {
        request.destroy();
        const body = Buffer.concat(parts).toString();
        resolve({
          status: response.statusCode ?? 0,
          body,
          headers: response.headers,
          bytesSent: sentBefore,
          ms,
        });
      });
    });
    // The server closes the connection after refusing: a write error once answered is expected.
    request.on("error", (error) => {
      if (answered) return;
      const reset = RESET_CODES.has((error as NodeJS.ErrnoException).code ?? "");
      if (reset && resetIsAnOutcome) resolve({ status: "reset", bytesSent, ms: Date.now() - started });
      else reject(error);
    });
    // Sends the headers even when no body byte is to follow.
    request.flushHeaders();
    write(
      request,
      (bytes) => {
        bytesSent += bytes;
      },
      () => answered,
    );
  });
}

/**
 * Streams `totalBytes` in 256 kB chunks as fast as the server takes them, until it answers.
 *
 * Such a writer can lose the answer: the server refuses, closes with the rest of the body unread,
 * and the close resets the connection; a write that fails on the reset (EPIPE) makes Node drop the
 * answer it had not yet read. Under load that happened about once in 40 requests, so a reset is an
 * outcome here, with how much had been sent and when; `burst` is the writer that always reads it.
 */
function stream(url: string, headers: Record<string, string>, totalBytes: number) {
  const chunk = Buffer.alloc(256 * 1024, "{");
  return post(url, headers, { totalBytes, resetIsAnOutcome: true }, (request, sent, answered) => {
    let written = 0;
    const pump = () => {
      while (!answered() && written < totalBytes) {
        written += chunk.length;
        sent(chunk.length);
        if (!request.write(chunk)) {
          request.once("drain", pump);
          return;
        }
      }
      if (written >= totalBytes) request.end();
    };
    pump();
  });
}

/**
 * Writes the first `burstBytes` of a body of `totalBytes` at once and waits, never ending it. Only
 * what the kernel had not yet taken of the burst can be written after the answer, so keep a burst
 * small where the server answers before reading (a reset then rejects: it would hide the answer).
 */
async function burst(
  url: string,
  headers: Record<string, string>,
  options: { totalBytes: number; burstBytes: number; declared?: boolean },
): Promise<Answer> {
  const answer = await post(url, headers, options, (request, sent) => {
    if (options.burstBytes > 0) request.write(Buffer.alloc(options.burstBytes, "{"));
    sent(options.burstBytes);
  });
  if (answer.status === "reset") throw new Error("a burst's answer was lost to a reset");
  return answer;
}

const code = (answer: Answer) => (JSON.parse(answer.body) as { code: string }).code;

describe("provider callbacks at the HTTP edge", () => {
  let app: AppServer;
  const url = (route: string, query = "") =>
    `${app.url}/api/generation/callback/${route}${query && `?${query}`}`;
  const freshHeaders = () => signWebhook(REPLICATE_SECRET, `msg_${randomUUID()}`, "{}");
  const refusals = (reason: string) =>
    app.output.filter((line) => line.includes('"callback.refused"') && line.includes(`"reason":"${reason}"`))
      .length;

  beforeAll(async () => {
    const port = await freePort();
    app = await startApp(
      {
        PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
        CALLBACK_SECRET,
        // Never called: no job exists, so a verified callback advances nothing.
        KLING_ACCESS_KEY: "edges-access",
        KLING_SECRET_KEY: "edges-secret",
        KLING_API_BASE_URL: "http://127.0.0.1:9",
        REPLICATE_API_TOKEN: "edges-replicate",
        REPLICATE_API_BASE_URL: "http://127.0.0.1:9",
        REPLICATE_WEBHOOK_SECRET: REPLICATE_SECRET,
        OPENAI_API_KEY: "edges-openai",
        OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
        OPENAI_WEBHOOK_SECRET: OPENAI_SECRET,
      },
      undefined,
      port,
    );
    // Each route's first request loads its code: warm them so memory and time measure the refusal.
    for (const route of ["kling", "replicate", "openai"]) {
      await fetch(url(route), { method: "POST", body: "{}" }).then((response) => response.arrayBuffer());
    }
  });
  afterAll(async () => app?.stop());

  it("refuses a 200 MB unauthenticated body with 401 within a second, without reading it", async () => {
    const unauthenticated: Array<[string, string, Record<string, string>]> = [
      ["kling, no token", url("kling", `jobId=${JOB_A}`), {}],
      ["replicate, no token", url("replicate", `jobId=${JOB_A}`), freshHeaders()],
      ["replicate, token but no signature headers", url("replicate", callbackQuery("replicate", JOB_A)), {}],
      ["openai, no signature headers", url("openai"), {}],
      ["openai, stale signature headers", url("openai"), signWebhook(OPENAI_SECRET, "msg_old", "{}", 1)],
    ];
    const baselineMb = rssMb(app.pid);
    let peakMb = baselineMb;
    const sampler = setInterval(() => {
      peakMb = Math.max(peakMb, rssMb(app.pid));
    }, 10);
    const figures: Record<string, unknown> = {};
    try {
      for (const [name, target, headers] of unauthenticated) {
        // Streamed: the connection ends within a second and a few MB, answered or reset.
        const streamed = await stream(target, headers, 200 * MB);
        expect(streamed.ms, name).toBeLessThan(1_000);
        expect(streamed.bytesSent, name).toBeLessThan(32 * MB);
        if (streamed.status !== "reset") {
          expect([streamed.status, code(streamed)], name).toEqual([401, "unauthorized"]);
          expect(streamed.headers.connection, name).toBe("close");
        }
        // Held: 16 kB of the 200 MB, written once and never ended, so nothing is written after the
        // answer and it is always read.
        const held = await burst(target, headers, { totalBytes: 200 * MB, burstBytes: 16 * 1024 });
        expect([held.status, code(held)], name).toEqual([401, "unauthorized"]);
        expect(held.headers.connection, name).toBe("close");
        expect(held.ms, name).toBeLessThan(1_000);
        figures[name] = {
          ms: streamed.ms,
          sentMb: Math.round((streamed.bytesSent / MB) * 10) / 10,
          ...(streamed.status === "reset" && { reset: true }),
          heldMs: held.ms,
        };
      }
      await sleep(300);
    } finally {
      clearInterval(sampler);
    }
    const afterMb = rssMb(app.pid);
    expect(peakMb - baselineMb).toBeLessThan(MEMORY_BUDGET_MB);
    expect(afterMb - baselineMb).toBeLessThan(MEMORY_BUDGET_MB);
    report("edges: 200 MB unauthenticated callbacks", {
      baselineMb: Math.round(baselineMb),
      peakMb: Math.round(peakMb),
      afterMb: Math.round(afterMb),
      figures,
    });
  });

  it("refuses a body past 1 MB with valid headers (413) without reading it whole", async () => {
    const authenticated: Array<[string, string, () => Record<string, string>]> = [
      ["kling", url("kling", callbackQuery("kling", JOB_A)), () => ({})],
      ["replicate", url("replicate", callbackQuery("replicate", JOB_A)), freshHeaders],
      ["openai", url("openai"), () => signWebhook(OPENAI_SECRET, `msg_${randomUUID()}`, "{}")],
    ];
    const figures: Record<string, unknown> = {};
    for (const [name, target, headers] of authenticated) {
      // Streamed: 200 MB offered, answered (or reset) after a few MB.
      const streamed = await stream(target, headers(), 200 * MB);
      if (streamed.status !== "reset") {
        expect([streamed.status, code(streamed)], name).toEqual([413, "request_too_large"]);
      }
      expect(streamed.bytesSent, name).toBeLessThan(32 * MB);
      expect(streamed.ms, name).toBeLessThan(5_000);
      // Held: 1.5 MB sent and the body never ended, so only the cap can have answered it.
      const held = await burst(target, headers(), { totalBytes: 200 * MB, burstBytes: 1.5 * MB });
      expect([held.status, code(held)], name).toEqual([413, "request_too_large"]);
      // Declared: refused on its Content-Length, with nothing of the body sent.
      const declared = await burst(target, headers(), { totalBytes: 5 * MB, burstBytes: 0, declared: true });
      expect([declared.status, code(declared)], name).toEqual([413, "request_too_large"]);
      figures[name] = {
        streamedMs: streamed.ms,
        streamedSentMb: Math.round((streamed.bytesSent / MB) * 10) / 10,
        ...(streamed.status === "reset" && { streamedReset: true }),
        heldMs: held.ms,
        declaredMs: declared.ms,
      };
    }
    report("edges: callback bodies past 1 MB", figures);
  });

  it("refuses an expired token, a token for another job, step or vendor, and accepts the job's own", async () => {
    const post = async (target: string, headers: Record<string, string> = {}, body = "{}") => {
      const response = await fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      });
      return { status: response.status, body: await response.json() };
    };
    const unauthorized = { status: 401, body: expect.objectContaining({ code: "unauthorized" }) };
    const [expiredBefore, wrongBefore] = [refusals("expired"), refusals("bad_token")];
    const expired = { expires: Math.floor(Date.now() / 1000) - 1 };
    const forA = callbackQuery("kling", JOB_A);
    const aUsedForB = forA.replace(JOB_A, JOB_B);

    expect(await post(url("kling", callbackQuery("kling", JOB_A, expired)))).toEqual(unauthorized);
    expect(await post(url("kling", aUsedForB))).toEqual(unauthorized);
    expect(await post(url("kling", forA.replace("step=style", "step=tryon")))).toEqual(unauthorized);
    expect(await post(url("kling", callbackQuery("replicate", JOB_A, { step: "style" })))).toEqual(
      unauthorized,
    );
    expect(await post(url("kling", forA))).toEqual({ status: 200, body: { ok: true } });

    // Replicate: a genuine signature does not make a URL for job A good for job B.
    const body = JSON.stringify({ id: "pred_1", status: "succeeded" });
    const signed = () => signWebhook(REPLICATE_SECRET, `msg_${randomUUID()}`, body);
    const replicateA = callbackQuery("replicate", JOB_A);
    expect(await post(url("replicate", replicateA.replace(JOB_A, JOB_B)), signed(), body)).toEqual(
      unauthorized,
    );
    expect(await post(url("replicate", callbackQuery("replicate", JOB_A, expired)), signed(), body)).toEqual(
      unauthorized,
    );
    expect(await post(url("replicate", `jobId=${JOB_A}`), signed(), body)).toEqual(unauthorized);
    expect(await post(url("replicate", replicateA), signed(), body)).toEqual({
      status: 200,
      body: { ok: true },
    });

    expect(refusals("expired") - expiredBefore).toBe(2);
    expect(refusals("bad_token") - wrongBefore).toBe(4);
  });
});

/** Directive name → its sources, from a Content-Security-Policy value. */
function directives(csp: string | null): Map<string, string[]> {
  return new Map(
    (csp ?? "")
      .split(";")
      .map((part) => part.trim().split(/\s+/))
      .map(([name = "", ...values]) => [name, values]),
  );
}

describe("response headers", () => {
  let local: AppServer;
  let blob: AppServer;
  const storeId = "EdgesStore42";
  const emulatorOrigin = "http://127.0.0.1:9";

  beforeAll(async () => {
    [local, blob] = await Promise.all([
      startApp(),
      startApp({
        BLOB_READ_WRITE_TOKEN: `vercel_blob_rw_${storeId}_${"s".repeat(30)}`,
        VERCEL_BLOB_API_URL: emulatorOrigin,
        VERCEL_BLOB_RETRIES: "0",
      }),
    ]);
  });
  afterAll(async () => Promise.all([local?.stop(), blob?.stop()]));

  it("narrows the page's CSP to the app, and to the Blob store when one is configured", async () => {
    const localPolicy = directives((await fetch(local.url)).headers.get("content-security-policy"));
    expect(localPolicy.get("img-src")).toEqual(["'self'", "blob:", "data:"]);
    expect(localPolicy.get("connect-src")).toEqual(["'self'"]);
    expect(localPolicy.get("default-src")).toEqual(["'self'"]);

    const blobPolicy = directives((await fetch(blob.url)).headers.get("content-security-policy"));
    expect(blobPolicy.get("img-src")).toEqual([
      "'self'",
      "blob:",
      "data:",
      // BLOB_ACCESS defaults to private: the store's images (signed URLs) are on its private host.
      `https://${storeId.toLowerCase()}.private.blob.vercel-storage.com`,
      emulatorOrigin,
    ]);
    expect(blobPolicy.get("connect-src")).toEqual(["'self'", "https://vercel.com/api/blob/"]);
    for (const policy of [localPolicy, blobPolicy]) {
      for (const [name, sources] of policy) {
        expect(sources, name).not.toContain("https:");
        expect(sources, name).not.toContain("*");
        expect(sources, name).not.toContain("'unsafe-eval'");
      }
    }
    report("edges: page CSP", {
      local: Object.fromEntries(localPolicy),
      blob: { img: blobPolicy.get("img-src"), connect: blobPolicy.get("connect-src") },
    });
  });

  it("serves stored images private and revalidated, never immutable", async () => {
    const key = `${randomUUID()}/final-0123456789ab.jpg`;
    const file = path.join(local.dataDir, "blobs", key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(
      file,
      await sharp({ create: { width: 8, height: 8, channels: 3, background: "#c06" } })
        .jpeg()
        .toBuffer(),
    );

    const image = await fetch(`${local.url}/api/files/${key}`);
    expect(image.status).toBe(200);
    await image.arrayBuffer();
    const cacheControl = image.headers.get("cache-control") ?? "";
    expect(cacheControl.split(/,\s*/)).toEqual(["private", "no-cache"]);
    expect(cacheControl).not.toMatch(/public|immutable|max-age=[1-9]/);
    const etag = image.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    const again = await fetch(`${local.url}/api/files/${key}`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get("cache-control")).toBe("private, no-cache");

    // A deleted look: the revalidation finds it gone.
    rmSync(file);
    const gone = await fetch(`${local.url}/api/files/${key}`, { headers: { "if-none-match": etag } });
    await expectApiError(gone, 404, "file_not_found");
    expect(gone.headers.get("cache-control")).toContain("no-store");
  });

  it("allows only the camera, and sends HSTS on https only, on pages and API answers alike", async () => {
    const targets = ["/", "/api/files/none/such.jpg", `/api/generation/status?jobId=${randomUUID()}`];
    for (const target of targets) {
      const plain = await fetch(`${local.url}${target}`);
      await plain.arrayBuffer();
      const policy = plain.headers.get("permissions-policy") ?? "";
      const features = new Map(policy.split(/,\s*/).map((entry) => entry.split("=") as [string, string]));
      expect(features.get("camera"), target).toBe("(self)");
      for (const [feature, allow] of features) if (feature !== "camera") expect(allow, feature).toBe("()");
      expect(features.get("microphone"), target).toBe("()");
      expect(features.get("geolocation"), target).toBe("()");
      expect(plain.headers.get("strict-transport-security"), target).toBeNull();

      const overHttps = await fetch(`${local.url}${target}`, { headers: { "x-forwarded-proto": "https" } });
      await overHttps.arrayBuffer();
      expect(overHttps.headers.get("strict-transport-security"), target).toBe(
        "max-age=63072000; includeSubDomains",
      );
    }
  });
});

const hasRedis = await requireRedis(
  "edges: store errors in the log (needs redis-server for a private instance)",
);

describe.skipIf(!hasRedis)("store errors in the log", () => {
  let redis: PrivateRedis;
  let app: AppServer;
  const poll = () => fetch(`${app.url}/api/generation/status?jobId=${randomUUID()}`);
  /** The store.unavailable lines printed since `from`. */
  const storeLines = (from: number) =>
    app.output.slice(from).filter((line) => line.includes('"event":"store.unavailable"'));

  beforeAll(async () => {
    redis = await startPrivateRedis();
    app = await startApp({ REDIS_URL: redis.url, STORE_KEY_PREFIX: "edges-log" });
  });
  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  });

  it("names the cause: a refused command, a timeout, a refused connection", async () => {
    expect((await poll()).status).toBe(404);
    const admin = createClient({ url: redis.url });
    await admin.connect();
    const causes: Record<string, string> = {};

    // A refused command: the app's user loses every permission (an admin user keeps its own).
    await admin.sendCommand(["ACL", "SETUSER", "admin", "on", ">edges-admin", "~*", "&*", "+@all"]);
    await admin.sendCommand(["AUTH", "admin", "edges-admin"]);
    await admin.sendCommand(["ACL", "SETUSER", "default", "-@all"]);
    let from = app.output.length;
    await expectApiError(await poll(), 503, "store_unavailable");
    causes.refused = storeLines(from)[0] ?? "";
    expect(causes.refused).toMatch(/NOPERM/);
    await admin.sendCommand(["ACL", "SETUSER", "default", "+@all"]);
    expect((await poll()).status).toBe(404);
    await admin.close();

    // A timeout: the server frozen, connections open.
    redis.pause();
    from = app.output.length;
    await expectApiError(await poll(), 503, "store_unavailable");
    causes.timeout = storeLines(from)[0] ?? "";
    expect(causes.timeout).toMatch(/did not answer within \d+ ms/);
    redis.resume();

    // A refused connection: the server gone.
    await redis.stop();
    await sleep(300);
    from = app.output.length;
    await expectApiError(await poll(), 503, "store_unavailable");
    causes.connection = storeLines(from)[0] ?? "";
    expect(causes.connection).toMatch(/ECONNREFUSED|closed/i);

    for (const line of Object.values(causes)) {
      const fields = JSON.parse(line) as { error: string };
      expect(fields.error).toMatch(/^StoreUnavailableError: The job store cannot be reached ← /);
    }
    report("edges: store errors logged with their cause", {
      causes: Object.fromEntries(
        Object.entries(causes).map(([name, line]) => [name, JSON.parse(line).error]),
      ),
    });
  });
});
