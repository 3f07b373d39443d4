import { randomUUID } from "node:crypto";
import path from "node:path";
import { upload } from "@vercel/blob/client";
import { createClient } from "redis";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { SCRIPTS } from "@/lib/store/lua";
import { startVercelBlobEmulator, type VercelBlobEmulator } from "@/tests/emulators/vercel-blob";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { withConsentJson } from "@/tests/support/consent";
import { colour, expectApiError, listFiles, report, sleep } from "@/tests/support/hostile";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { pollUntilDone } from "@/tests/support/poll";
import { type PrivateRedis, startPrivateRedis } from "@/tests/support/private-redis";
import { drip, rawUpload } from "@/tests/support/raw-upload";
import { requireRedis } from "@/tests/support/redis";
import { monitorRedis } from "@/tests/support/redis-monitor";
import { countJobRows } from "@/tests/support/sqlite-jobs";

const hasRedis = await requireRedis("start idempotency: the store-paused start (needs redis-server)");

let person: Buffer;
let garment: Buffer;
/** A flat ~40 MP photo: decoding it keeps a start busy long enough for a second request to overlap. */
let heavy: Buffer;
let app: AppServer;
let budgeted: AppServer;

beforeAll(async () => {
  [person, garment, heavy, app, budgeted] = await Promise.all([
    personPhoto(),
    garmentPhoto(),
    sharp({ create: { width: 6300, height: 6300, channels: 3, background: "#8899aa" } })
      .png({ compressionLevel: 9 })
      .toBuffer(),
    startApp(),
    startApp({ DAILY_LOOK_BUDGET: "3", MAX_ACTIVE_JOBS: "0" }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.stop(), budgeted?.stop()]);
});

function start(
  target: AppServer,
  key: string | null,
  parts: { occasion?: string; photo?: Buffer } = {},
): Promise<Response> {
  const body = startForm({ person: parts.photo ?? person, garment, occasion: parts.occasion ?? "Party" });
  const headers: Record<string, string> = key === null ? {} : { "Idempotency-Key": key };
  return fetch(`${target.url}/api/generation/start`, { method: "POST", body, headers });
}

async function accepted(response: Response): Promise<string> {
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(202);
  return body.jobId;
}

describe("Idempotency-Key on start (multipart)", () => {
  it("answers the same key with the same 202 and Location, and makes one job", async () => {
    const key = randomUUID();
    const before = countJobRows(app.dataDir);
    const first = await start(app, key);
    const jobId = await accepted(first);
    const again = await start(app, key);
    expect(await accepted(again)).toBe(jobId);
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(countJobRows(app.dataDir)).toBe(before + 1);
    // Without a key every request is a new look.
    await accepted(await start(app, null));
    await accepted(await start(app, null));
    expect(countJobRows(app.dataDir)).toBe(before + 3);
  });

  it("refuses the same key with another body (422), and an unusable key (400)", async () => {
    const key = randomUUID();
    await accepted(await start(app, key));
    const before = countJobRows(app.dataDir);
    await expectApiError(await start(app, key, { occasion: "Another party" }), 422, "idempotency_key_reused");
    await expectApiError(
      await start(app, key, { photo: await personPhoto(901, 1200) }),
      422,
      "idempotency_key_reused",
    );
    for (const bad of ["x".repeat(256), "two words", "caf\u00e9"]) {
      await expectApiError(await start(app, bad), 400, "invalid_idempotency_key", bad);
    }
    expect(countJobRows(app.dataDir)).toBe(before);
  });

  it("answers a second request with the key while the first still runs with 409, then replays", async () => {
    const key = randomUUID();
    const before = countJobRows(app.dataDir);
    const [a, b] = await Promise.all([start(app, key, { photo: heavy }), start(app, key, { photo: heavy })]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([202, 409]);
    const [winner, loser] = a.status === 202 ? [a, b] : [b, a];
    const jobId = await accepted(winner);
    expect(loser.headers.get("retry-after")).toBe("1");
    await expectApiError(loser, 409, "idempotency_key_in_use");
    expect(await accepted(await start(app, key, { photo: heavy }))).toBe(jobId);
    expect(countJobRows(app.dataDir)).toBe(before + 1);
    report("idempotency: concurrent requests with one key", {
      statuses,
      jobs: countJobRows(app.dataDir) - before,
    });
  });
});

describe("DAILY_LOOK_BUDGET", () => {
  it("accepts exactly the budget under a burst, then answers 503 daily_budget_reached; replays still answer", async () => {
    const keys = Array.from({ length: 8 }, () => randomUUID());
    const answers = await Promise.all(keys.map((key) => start(budgeted, key)));
    const acceptedKeys = keys.filter((_, i) => answers[i]?.status === 202);
    expect(acceptedKeys).toHaveLength(3);
    for (const response of answers.filter((r) => r.status !== 202)) {
      await expectApiError(response, 503, "daily_budget_reached");
    }
    const blobs = listFiles(path.join(budgeted.dataDir, "blobs"));
    const refused = await start(budgeted, "after-the-budget");
    const untilMidnight = Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000);
    expect(Math.abs(Number(refused.headers.get("retry-after")) - untilMidnight)).toBeLessThanOrEqual(5);
    const { error } = await expectApiError(refused, 503, "daily_budget_reached");
    expect(error).toMatch(/^Today's limit of new looks has been reached\. Please come back tomorrow/);
    // A refusal frees its key: the same key is refused for the budget again, not held as "in use".
    await expectApiError(await start(budgeted, "after-the-budget"), 503, "daily_budget_reached");
    // A replay costs no budget.
    expect((await start(budgeted, acceptedKeys[0] ?? "")).status).toBe(202);
    expect(listFiles(path.join(budgeted.dataDir, "blobs"))).toEqual(blobs);
    expect(countJobRows(budgeted.dataDir)).toBe(3);
    report("budget: DAILY_LOOK_BUDGET=3", { burst: 8, accepted: acceptedKeys.length, error });
  });
});

describe("direct uploads (JSON start)", () => {
  let emulator: VercelBlobEmulator;
  let blobApp: AppServer;

  beforeAll(async () => {
    emulator = await startVercelBlobEmulator();
    blobApp = await startApp({
      BLOB_READ_WRITE_TOKEN: emulator.token,
      VERCEL_BLOB_API_URL: emulator.url,
      BLOB_ACCESS: "public",
      VERCEL_BLOB_RETRIES: "0",
      UPLOAD_IDLE_TIMEOUT_MS: "1000",
    });
    vi.stubEnv("VERCEL_BLOB_API_URL", emulator.url);
    vi.stubEnv("VERCEL_BLOB_RETRIES", "0");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await blobApp?.stop();
    await emulator?.close();
  });

  const uploadPhoto = (pathname: string, bytes: Buffer, contentType: string) =>
    upload(pathname, bytes, { access: "public", handleUploadUrl: `${blobApp.url}/api/uploads`, contentType });

  const startWithUrls = (key: string, body: Record<string, string>) =>
    fetch(`${blobApp.url}/api/generation/start`, {
      method: "POST",
      headers: { "content-type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify(withConsentJson(body)),
    });

  it("makes one job for the same key, though the first start deleted the uploads", async () => {
    const [personBlob, garmentBlob] = await Promise.all([
      uploadPhoto("uploads/person.jpg", person, "image/jpeg"),
      uploadPhoto("uploads/garment.png", await garmentPhoto(colour(3)), "image/png"),
    ]);
    const body = { human_image_url: personBlob.url, garment_image_url: garmentBlob.url, occasion: "Gallery" };
    const key = randomUUID();
    const jobId = await accepted(await startWithUrls(key, body));
    await vi.waitFor(() => expect(emulator.blobs().has(personBlob.pathname)).toBe(false));
    const again = await startWithUrls(key, body);
    expect(await accepted(again)).toBe(jobId);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    await expectApiError(
      await startWithUrls(key, { ...body, occasion: "Other" }),
      422,
      "idempotency_key_reused",
    );
    const jobs = [...emulator.blobs().keys()].filter(
      (name) => name.endsWith(".jpg") && name.includes("/person-"),
    );
    expect(jobs.filter((name) => name.startsWith(`${jobId}/`))).toHaveLength(1);
    expect((await pollUntilDone([blobApp.url], jobId)).final.status).toBe("completed");
  });

  it("cuts a JSON start body that drips at the idle deadline", async () => {
    const run = await rawUpload(
      blobApp.url,
      "/api/generation/start",
      { "content-type": "application/json" },
      drip(Buffer.from('{"occasion":"'), 1_500, 10_000),
    );
    expect(run.status).toBe(408);
    expect(JSON.parse(run.body)).toMatchObject({ code: "upload_timeout" });
    expect(run.answeredAtMs ?? Number.POSITIVE_INFINITY).toBeLessThan(2_500);
  });
});

describe.skipIf(!hasRedis)("a store that stalls around the create (a private Redis, paused)", () => {
  const PREFIX = "start-paused";
  let redis: PrivateRedis;
  let paused: AppServer;
  let admin: ReturnType<typeof createClient>;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    paused = await startApp({ REDIS_URL: redis.url, STORE_KEY_PREFIX: PREFIX, LOCAL_STUDIO_STEP_MS: "200" });
    admin = createClient({ url: redis.url });
    admin.on("error", () => {});
    await admin.connect();
    // One start first, so every script is cached and runs as EVALSHA (what the monitor waits for).
    await accepted(await start(paused, null));
  });
  afterAll(async () => {
    if (admin?.isOpen) await admin.close();
    await paused?.stop();
    await redis?.stop();
  });

  /**
   * Sends a start and freezes Redis (SIGSTOP) as soon as it ran the start's last command before
   * the create (the in-progress cap's count), for `pauseMs`: the create reaches a Redis that does not
   * answer, and runs when it thaws — after the store's 3 s timeout.
   */
  async function startWhilePaused(key: string, occasion: string, pauseMs: number) {
    const monitor = await monitorRedis(redis.port);
    const lastBeforeCreate = monitor.next((line) => line.includes(`"EVALSHA" "${SCRIPTS.countActive.sha1}"`));
    const startedAt = Date.now();
    const answer = start(paused, key, { occasion });
    await lastBeforeCreate;
    redis.pause();
    const thaw = sleep(pauseMs).then(() => redis.resume());
    const response = await answer;
    const answeredMs = Date.now() - startedAt;
    await thaw;
    monitor.close();
    return { response, answeredMs, thawedAt: Date.now() };
  }

  const jobKeys = async () => {
    const found: string[] = [];
    for await (const keys of admin.scanIterator({ MATCH: `${PREFIX}:job:*`, COUNT: 100 }))
      found.push(...keys);
    // SCAN's order is the hash table's, not the insertion order: compare as sets.
    return found.sort();
  };

  it("a create answered after the timeout: the start finds the job and answers 202, photos kept", async () => {
    const { response, answeredMs } = await startWhilePaused(randomUUID(), "Paused 4 s", 4_000);
    const jobId = await accepted(response);
    expect(answeredMs).toBeGreaterThan(4_000);
    expect(await admin.get(`${PREFIX}:job:${jobId}`)).not.toBeNull();
    expect(listFiles(path.join(paused.dataDir, "blobs", jobId))).toHaveLength(2);
    expect(paused.output.some((line) => line.includes('"outcome":"created"') && line.includes(jobId))).toBe(
      true,
    );
    expect((await pollUntilDone([paused.url], jobId)).final.status).toBe("completed");
    report("store paused: create answered late", { pauseMs: 4_000, answeredMs, status: 202 });
  });

  it("a create that stays unanswered: 503, then the job is retracted and its photos deleted; a retry makes one job", async () => {
    const key = randomUUID();
    const jobsBefore = await jobKeys();
    const { response, answeredMs, thawedAt } = await startWhilePaused(key, "Paused 16 s", 16_000);
    await expectApiError(response, 503, "store_unavailable");
    const unanswered = paused.output.find(
      (line) => line.includes('"start.create_unanswered"') && line.includes('"outcome":"unknown"'),
    );
    const deniedJobId = unanswered ? (JSON.parse(unanswered) as { jobId: string }).jobId : "";
    expect(deniedJobId).toMatch(/^[0-9a-f-]{36}$/);
    // Once Redis answers again, the start that said 503 retracts the job the late create made.
    const settled = await vi.waitFor(
      () => {
        const line = paused.output.find(
          (l) => l.includes('"start.create_retracted"') && l.includes(deniedJobId),
        );
        if (!line) throw new Error("not retracted yet");
        return JSON.parse(line) as { outcome: string; at: string };
      },
      { timeout: 20_000, interval: 250 },
    );
    expect(["retracted", "voided"]).toContain(settled.outcome);
    expect(await admin.get(`${PREFIX}:job:${deniedJobId}`)).toBeNull();
    expect(await admin.zScore(`${PREFIX}:active`, deniedJobId)).toBeNull();
    await vi.waitFor(() => expect(listFiles(path.join(paused.dataDir, "blobs", deniedJobId))).toEqual([]));
    expect(await jobKeys()).toEqual(jobsBefore);
    // The person taps again with the same key: one new job, and only one.
    const retried = await accepted(await start(paused, key, { occasion: "Paused 16 s" }));
    expect(retried).not.toBe(deniedJobId);
    expect((await jobKeys()).length).toBe(jobsBefore.length + 1);
    report("store paused: create never answered in time", {
      pauseMs: 16_000,
      answeredMs,
      status: response.status,
      settled: settled.outcome,
      retractedAfterThawMs: Date.parse(settled.at) - thawedAt,
    });
  });
});
