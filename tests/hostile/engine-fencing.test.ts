import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoredJob } from "@/lib/jobs/job";
import { type JobStore, jobCodec } from "@/lib/jobs/job-store";
import { PAUSED_MESSAGE, toPublicJob } from "@/lib/jobs/public-view";
import { createRedisStore } from "@/lib/store/redis";
import { createSqliteStore } from "@/lib/store/sqlite";
import { type ReplicateEmulator, startReplicateEmulator } from "@/tests/emulators/replicate";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { localSubmitsByStep, report, sleep } from "@/tests/support/hostile";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { pollUntilDone, startJobOver } from "@/tests/support/poll";
import { type PrivateRedis, startPrivateRedis } from "@/tests/support/private-redis";
import { requireRedis } from "@/tests/support/redis";

const hasRedis = await requireRedis(
  "engine fencing: a store blip (needs redis-server for a private instance)",
);

const PREFIX = "engine-blip";
const FACESWAP_STEP = 3;
/** How long the store refuses every command, right after the vendor accepted the create. */
const OUTAGE_MS = 4_000;
/** "No stall longer than a few seconds": from Redis answering again to the task id being written. */
const STALL_BUDGET_MS = 3_000;

/** A poll that may answer 503 while the store is down: fire and forget. */
function pollQuietly(app: AppServer, jobId: string): void {
  fetch(`${app.url}/api/generation/status?jobId=${jobId}`)
    .then((response) => response.arrayBuffer())
    .catch(() => undefined);
}

async function readQuietly(store: JobStore, jobId: string): Promise<StoredJob | null> {
  try {
    return await store.get(jobId);
  } catch {
    return null;
  }
}

describe.skipIf(!hasRedis)("a store that refuses commands for 4 s right after an accepted create", () => {
  let redis: PrivateRedis;
  let replicate: ReplicateEmulator;
  let app: AppServer;
  let store: JobStore;

  beforeAll(async () => {
    redis = await startPrivateRedis({ persistent: true });
    replicate = await startReplicateEmulator({ taskDurationMs: 400 });
    app = await startApp({
      REDIS_URL: redis.url,
      STORE_KEY_PREFIX: PREFIX,
      REPLICATE_API_TOKEN: "test-replicate-token",
      REPLICATE_API_BASE_URL: replicate.url,
    });
    store = createRedisStore({ codec: jobCodec, url: redis.url, keyPrefix: PREFIX, ttlSeconds: 3600 });
  });

  afterAll(async () => {
    await store?.close();
    await app?.stop();
    await replicate?.close();
    await redis?.stop();
  });

  it("creates once, and writes the task id within seconds of the store's return", async () => {
    const form = startForm({ person: await personPhoto(), garment: await garmentPhoto(), occasion: "Blip" });
    const jobId = await startJobOver(app.url, form);
    // The face swap's create is accepted by Replicate, and answered 1.5 s later.
    replicate.faults.push({ on: "create", kind: "hang", ms: 1_500 });
    let inFlight: StoredJob | null = null;
    for (let i = 0; !inFlight; i++) {
      if (i % 15 === 0) pollQuietly(app, jobId);
      const job = await readQuietly(store, jobId);
      if (job?.stepIndex === FACESWAP_STEP && job.current?.submittingAt != null) inFlight = job;
      else await sleep(20);
      if (i > 3_000) throw new Error("the face swap was never submitted");
    }
    await redis.stop();
    const stoppedAt = Date.now();
    await sleep(OUTAGE_MS);
    await redis.start();
    const backAt = Date.now();
    let recorded: StoredJob | null = null;
    while (!recorded?.current?.taskId) {
      recorded = await readQuietly(store, jobId);
      if (Date.now() - backAt > 20_000) throw new Error("the task id was never written");
      await sleep(50);
    }
    const stallMs = Date.now() - backAt;
    const { final } = await pollUntilDone([app.url], jobId, { intervalMs: 200 });
    expect(final.status, final.error ?? "").toBe("completed");
    expect(replicate.createRequests()).toHaveLength(1);
    expect(await localSubmitsByStep(app.dataDir, jobId)).toEqual({ advice: 1, style: 1, tryon: 1 });
    expect(stallMs).toBeLessThan(STALL_BUDGET_MS);
    expect(app.output.some((line) => line.includes('"step.task_write_retry"'))).toBe(true);
    report("engine: store blip after an accepted create", {
      outageMs: backAt - stoppedAt,
      stallAfterStoreBackMs: stallMs,
      faceswapCreates: replicate.createRequests().length,
    });
  }, 120_000);
});

const CRON_SECRET = "test-cron-secret-0123456789";

describe("a look nobody watches", () => {
  let app: AppServer;
  let frequent: AppServer;

  beforeAll(async () => {
    // A daily cron (the default) and no callbacks: nothing would carry the look to its end.
    app = await startApp({ CRON_SECRET, UNWATCHED_AFTER_SECONDS: "1" });
    frequent = await startApp({ CRON_SECRET, UNWATCHED_AFTER_SECONDS: "1", SWEEP_INTERVAL_SECONDS: "60" });
  });
  afterAll(async () => {
    await app?.stop();
    await frequent?.stop();
  });

  const sweep = async (server: AppServer) => {
    const response = await fetch(`${server.url}/api/cron/advance`, {
      headers: { authorization: `Bearer ${CRON_SECRET}` },
    });
    expect(response.status).toBe(200);
    return response.json();
  };

  /** The job straight from the app's store: a status poll would advance it as a person. */
  async function readOnly(server: AppServer, jobId: string): Promise<StoredJob | null> {
    const store = createSqliteStore({
      codec: jobCodec,
      file: path.join(server.dataDir, "jobs.db"),
      ttlSeconds: 3600,
    });
    try {
      return await store.get(jobId);
    } finally {
      await store.close();
    }
  }

  const start = async (server: AppServer) =>
    startJobOver(
      server.url,
      startForm({ person: await personPhoto(), garment: await garmentPhoto(), occasion: "Closed the tab" }),
    );

  it("stops before its next paid step, says so, and resumes when opened", async () => {
    const jobId = await start(app);
    await sleep(1_500); // the tab closed; the advice task finished meanwhile
    await sweep(app);
    const paused = await readOnly(app, jobId);
    expect(paused?.status).toBe("processing-style");
    expect(paused?.artifacts.advice).toBeDefined();
    expect(paused?.current?.pausedAt).not.toBeNull();
    expect(paused && toPublicJob(paused).statusMessage).toBe(PAUSED_MESSAGE);
    await sleep(500);
    await sweep(app);
    expect(await localSubmitsByStep(app.dataDir, jobId)).toEqual({ advice: 1 });
    // Opened again: the person's polls carry it to the end, each step paid once.
    const { final } = await pollUntilDone([app.url], jobId, { intervalMs: 200 });
    expect(final.status, final.error ?? "").toBe("completed");
    expect(await localSubmitsByStep(app.dataDir, jobId)).toEqual({
      advice: 1,
      style: 1,
      tryon: 1,
      faceswap: 1,
    });
  });

  it("is carried to the end by a sweep the operator says runs every minute", async () => {
    const jobId = await start(frequent);
    await sleep(1_500);
    for (let i = 0; i < 60 && (await readOnly(frequent, jobId))?.status !== "completed"; i++) {
      await sweep(frequent);
      await sleep(150);
    }
    const job = await readOnly(frequent, jobId);
    expect(job?.status).toBe("completed");
    expect(job?.current).toBeNull();
  });
});
