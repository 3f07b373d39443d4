import path from "node:path";
import { createClient } from "redis";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { expectApiError, listFiles, percentile, report } from "@/tests/support/hostile";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import {
  burst,
  drip,
  flood,
  isReset,
  openPhotoPart,
  rawUpload,
  type UploadRun,
} from "@/tests/support/raw-upload";
import { requireRedis, TEST_REDIS_URL } from "@/tests/support/redis";

const MB = 1024 * 1024;
const IDLE_MS = 1_000;
const TOTAL_MS = 4_000;
const hasRedis = await requireRedis("hostile: intake (the Vercel-mode app needs Redis)");
/** The Vercel-mode app's keys on the shared Redis, removed afterwards. */
const VERCEL_PREFIX = `hostile-intake-${Date.now()}`;

let person: Buffer;
let garment: Buffer;
/** A flat ~40 MP PNG of a few hundred kB: decoding it is what a refused request must not cost. */
let heavy: Buffer;
/** Short upload deadlines, no rate limit. */
let uploads: AppServer;
/** The default client address (nothing trusted), one start per window. */
let direct: AppServer;
/** Behind one trusted proxy, two starts per window. */
let proxied: AppServer;
/** VERCEL=1 (Redis, as Vercel requires), two starts per window. */
let vercel: AppServer | undefined;

beforeAll(async () => {
  const limited = { START_RATE_LIMIT: "2", START_RATE_WINDOW_SECONDS: "600", MAX_ACTIVE_JOBS: "0" };
  [person, garment, heavy, uploads, direct, proxied, vercel] = await Promise.all([
    personPhoto(),
    garmentPhoto(),
    sharp({ create: { width: 6300, height: 6300, channels: 3, background: "#8899aa" } })
      .png({ compressionLevel: 9 })
      .toBuffer(),
    startApp({ UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS), UPLOAD_TOTAL_TIMEOUT_MS: String(TOTAL_MS) }),
    startApp({ START_RATE_LIMIT: "1", START_RATE_WINDOW_SECONDS: "600", MAX_ACTIVE_JOBS: "0" }),
    startApp({ ...limited, TRUSTED_PROXY_HOPS: "1" }),
    hasRedis
      ? startApp({
          ...limited,
          VERCEL: "1",
          REDIS_URL: TEST_REDIS_URL,
          STORE_KEY_PREFIX: VERCEL_PREFIX,
        })
      : Promise.resolve(undefined),
  ]);
});
afterAll(async () => {
  await Promise.all([uploads?.stop(), direct?.stop(), proxied?.stop(), vercel?.stop()]);
  if (!hasRedis) return;
  const admin = createClient({ url: TEST_REDIS_URL });
  await admin.connect();
  for await (const keys of admin.scanIterator({ MATCH: `${VERCEL_PREFIX}:*`, COUNT: 100 })) {
    if (keys.length > 0) await admin.del(keys);
  }
  await admin.close();
});

const START = "/api/generation/start";

function start(app: AppServer, headers: Record<string, string> = {}, photo = person): Promise<Response> {
  const body = startForm({ person: photo, garment, occasion: "Party" });
  return fetch(`${app.url}${START}`, { method: "POST", body, headers });
}

/** The 4xx a raw upload got: its status, `{error, code}`, and a closed connection. */
function expectRefusal(run: UploadRun, status: number, code: string) {
  expect(run.status, JSON.stringify(run)).toBe(status);
  expect(JSON.parse(run.body)).toMatchObject({ code });
  expect(run.headers.connection).toBe("close");
}

describe("request bodies are capped and timed while they stream", () => {
  it("answers a 300 MB chunked upload with 413 long before it ends, and closes the connection", async () => {
    const blobs = listFiles(path.join(uploads.dataDir, "blobs"));
    const { head, contentType } = openPhotoPart();
    const run = await rawUpload(uploads.url, START, { "content-type": contentType }, flood(300 * MB, head));
    // Answered, or reset before the answer could be read: either way it ended after a few MB.
    if (!isReset(run)) expectRefusal(run, 413, "request_too_large");
    const answeredMb = (isReset(run) ? run.bytesSent : run.bytesAtAnswer) / MB;
    const sentMb = run.bytesSent / MB;
    // The cap is 20.25 MB: answered once it was crossed, and the client could send little more.
    expect(answeredMb).toBeLessThan(32);
    expect(sentMb).toBeLessThan(64);
    expect(run.closedAtMs - (run.answeredAtMs ?? run.closedAtMs)).toBeLessThan(2_000);
    // A reset must come as soon as an answer would have (a stall is the run's timeout, not a reset).
    if (isReset(run)) expect(run.closedAtMs).toBeLessThan(5_000);
    // Held: 22 MB sent at once and the body never ended, so only the cap can have answered it.
    const held = await rawUpload(uploads.url, START, { "content-type": contentType }, burst(22 * MB, head));
    expectRefusal(held, 413, "request_too_large");
    expect(listFiles(path.join(uploads.dataDir, "blobs"))).toEqual(blobs);
    const rateMbPerS = answeredMb / ((run.answeredAtMs ?? run.closedAtMs) / 1000);
    report("intake: 300 MB chunked upload", {
      status: run.status,
      reset: isReset(run),
      heldStatus: held.status,
      answeredMs: run.answeredAtMs,
      answeredAfterMb: Math.round(answeredMb * 10) / 10,
      connectionClosedMs: run.closedAtMs,
      clientSentMbInAll: Math.round(sentMb * 10) / 10,
      clientError: run.error,
      projected300MbMs: Math.round((300 / rateMbPerS) * 1000),
    });
  });

  it("cuts a slow drip at the idle deadline, and a steady trickle at the total deadline", async () => {
    const { head, contentType } = openPhotoPart();
    const headers = { "content-type": contentType };
    const [idle, trickle] = await Promise.all([
      rawUpload(uploads.url, START, headers, drip(head, IDLE_MS * 1.5, 20_000)),
      // A byte every eighth of the idle deadline: a loaded machine's lag must not pass for idleness.
      rawUpload(uploads.url, START, headers, drip(head, IDLE_MS / 8, 20_000)),
    ]);
    expectRefusal(idle, 408, "upload_timeout");
    expectRefusal(trickle, 408, "upload_timeout");
    expect(JSON.parse(idle.body).error).toMatch(/stopped sending/);
    expect(JSON.parse(trickle.body).error).toMatch(/took too long/);
    // Cut one idle period after the last byte (not after Node's 5-minute default).
    const idleAnswerMs = idle.answeredAtMs ?? Number.POSITIVE_INFINITY;
    expect(idleAnswerMs - idle.lastByteAtMs).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(idleAnswerMs).toBeLessThan(IDLE_MS + 1_500);
    expect(trickle.answeredAtMs ?? Number.POSITIVE_INFINITY).toBeGreaterThanOrEqual(TOTAL_MS - 50);
    expect(trickle.answeredAtMs ?? Number.POSITIVE_INFINITY).toBeLessThan(TOTAL_MS + 1_500);
    for (const run of [idle, trickle]) expect(run.closedAtMs - (run.answeredAtMs ?? 0)).toBeLessThan(1_000);
    report("intake: slow bodies", {
      idleDeadlineMs: IDLE_MS,
      dripAnsweredMs: idle.answeredAtMs,
      dripConnectionClosedMs: idle.closedAtMs,
      totalDeadlineMs: TOTAL_MS,
      trickleAnsweredMs: trickle.answeredAtMs,
      trickleBytesSent: trickle.bytesSent,
    });
    // A normal upload on the same server is unaffected by the short deadlines, and nothing crashed.
    expect((await start(uploads)).status).toBe(202);
    expect(uploads.output.filter((line) => /uncaught|unhandled/i.test(line))).toEqual([]);
  });
});

describe("the rate limit: who the client is, and what a refusal costs", () => {
  it("with no trusted proxy, a spoofed X-Forwarded-For shares the one bucket, and a refusal decodes nothing", async () => {
    const decoded = () => direct.output.filter((line) => line.includes('"start.photos_decoded"')).length;
    const acceptedAt = Date.now();
    expect((await start(direct, {}, heavy)).status).toBe(202);
    const acceptedMs = Date.now() - acceptedAt;
    expect(decoded()).toBe(1);
    const refusedMs: number[] = [];
    for (const spoof of ["203.0.113.7", "198.51.100.1", "192.0.2.9, 203.0.113.8", "2001:db8::1"]) {
      const refusedAt = Date.now();
      const refused = await start(direct, { "x-forwarded-for": spoof, "x-real-ip": spoof }, heavy);
      refusedMs.push(Date.now() - refusedAt);
      await expectApiError(refused, 429, "rate_limited", spoof);
    }
    // Every refused request carried the same ~40 MP photos; none of them was decoded.
    expect(decoded()).toBe(1);
    expect(percentile(refusedMs, 0.5)).toBeLessThan(acceptedMs);
    report("intake: spoofed X-Forwarded-For, default", {
      acceptedMs,
      refusedMsP50: percentile(refusedMs, 0.5),
      refusedMsMax: Math.max(...refusedMs),
      decodedPhotosLogLines: decoded(),
      spoofsRefused: refusedMs.length,
    });
  });

  it("behind TRUSTED_PROXY_HOPS=1, keys on the entry the proxy appended, IPv6 by /64", async () => {
    // The proxy appends what it saw; the client controls everything to its left.
    const via = (client: string, spoof = "6.6.6.6") => ({ "x-forwarded-for": `${spoof}, ${client}` });
    expect((await start(proxied, via("203.0.113.7", "1.1.1.1"))).status).toBe(202);
    expect((await start(proxied, via("203.0.113.7", "2.2.2.2"))).status).toBe(202);
    await expectApiError(await start(proxied, via("203.0.113.7", "3.3.3.3")), 429, "rate_limited");
    expect((await start(proxied, via("198.51.100.9"))).status).toBe(202);
    expect((await start(proxied, via("2001:db8:5:6::1"))).status).toBe(202);
    expect((await start(proxied, via("2001:db8:5:6::2"))).status).toBe(202);
    // Another address in the same /64 is the same subscriber.
    await expectApiError(await start(proxied, via("2001:db8:5:6:ffff::9")), 429, "rate_limited");
    expect((await start(proxied, via("2001:db8:5:7::1"))).status).toBe(202);
  });

  it.skipIf(!hasRedis)(
    "on Vercel, keys on x-real-ip (what Vercel's proxy writes), not X-Forwarded-For",
    async () => {
      if (!vercel) throw new Error("the Vercel-mode app did not start");
      const as = (realIp: string, spoof: string) => ({ "x-real-ip": realIp, "x-forwarded-for": spoof });
      expect((await start(vercel, as("203.0.113.7", "1.1.1.1"))).status).toBe(202);
      expect((await start(vercel, as("203.0.113.7", "2.2.2.2"))).status).toBe(202);
      await expectApiError(await start(vercel, as("203.0.113.7", "3.3.3.3")), 429, "rate_limited");
      expect((await start(vercel, as("198.51.100.9", "3.3.3.3"))).status).toBe(202);
    },
  );
});
