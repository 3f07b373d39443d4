import path from "node:path";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PublicJob } from "@/lib/public-job";
import { STEP_NAMES } from "@/lib/step-catalogue";
import { type AppServer, startApp } from "@/tests/support/app-server";
import {
  colour,
  cutLeases,
  expectApiError,
  isFinished,
  listFiles,
  localSubmitsByStep,
  percentile,
  report,
  sleep,
} from "@/tests/support/hostile";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { getStatus, pollUntilDone, startJobOver } from "@/tests/support/poll";
import { type PrivateRedis, startPrivateRedis } from "@/tests/support/private-redis";
import { requireRedis } from "@/tests/support/redis";

const hasRedis = await requireRedis("hostile: store outage (needs redis-server for a private instance)");

const PREFIX = "hostile-outage";
/** What "quickly" means for a poll while the store is down. */
const OUTAGE_ANSWER_BUDGET_MS = 4_000;
/** Leases whose release never reached the store are cut to this (the advance's own lease is 60 s). */
const STRANDED_LEASE_MS = 1_000;
const ONCE_EACH = Object.fromEntries(STEP_NAMES.map((step) => [step, 1]));

describe.skipIf(!hasRedis)("store outage: a private Redis stopped, then frozen, mid-run", () => {
  let redis: PrivateRedis;
  let app: AppServer;
  let person: Buffer;

  beforeAll(async () => {
    redis = await startPrivateRedis({ persistent: true });
    app = await startApp({ REDIS_URL: redis.url, STORE_KEY_PREFIX: PREFIX, LOCAL_STUDIO_STEP_MS: "1000" });
    person = await personPhoto();
  });

  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  });

  const form = async (i: number) =>
    startForm({ person, garment: await garmentPhoto(colour(i)), occasion: `Outage ${i}` });

  /** Polls every job at once, `rounds` times; returns each answer's latency. Each must be a 503. */
  async function pollsDuringOutage(jobIds: string[], rounds: number): Promise<number[]> {
    const latencies: number[] = [];
    for (let round = 0; round < rounds; round++) {
      await Promise.all(
        jobIds.map(async (jobId) => {
          const started = Date.now();
          const response = await fetch(`${app.url}/api/generation/status?jobId=${jobId}`, {
            signal: AbortSignal.timeout(15_000),
          });
          latencies.push(Date.now() - started);
          expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
          expect(response.headers.get("cache-control")).toContain("no-store");
          await expectApiError(response, 503, "store_unavailable");
        }),
      );
    }
    return latencies;
  }

  /** A start during the outage: refused with 503 within the budget, and nothing written. */
  async function startDuringOutage(): Promise<number> {
    const blobsBefore = listFiles(path.join(app.dataDir, "blobs"));
    const started = Date.now();
    const response = await fetch(`${app.url}/api/generation/start`, {
      method: "POST",
      body: await form(99),
      signal: AbortSignal.timeout(15_000),
    });
    const latency = Date.now() - started;
    await expectApiError(response, 503, "store_unavailable");
    expect(listFiles(path.join(app.dataDir, "blobs"))).toEqual(blobsBefore);
    return latency;
  }

  async function untilAnswering(jobId: string): Promise<number> {
    const started = Date.now();
    for (;;) {
      const response = await fetch(`${app.url}/api/generation/status?jobId=${jobId}`);
      await response.arrayBuffer();
      if (response.status === 200) return Date.now() - started;
      expect(response.status).toBe(503);
      if (Date.now() - started > 20_000) throw new Error("the app did not reconnect to Redis in 20 s");
      await sleep(100);
    }
  }

  it("answers 503 store_unavailable quickly, refuses starts, and finishes every job once Redis is back", async () => {
    const leases = createClient({ url: redis.url });
    leases.on("error", () => {});
    // One job finishes before the outage: its image must still load while the store is down.
    const done = await startJobOver(app.url, await form(0));
    const { final: finished } = await pollUntilDone([app.url], done, { intervalMs: 200 });
    expect(finished.status).toBe("completed");

    const jobIds = await Promise.all([1, 2, 3].map(async (i) => startJobOver(app.url, await form(i))));
    for (const jobId of jobIds) {
      for (let job = await getStatus(app.url, jobId); job.step < 2; job = await getStatus(app.url, jobId)) {
        await sleep(200);
      }
    }

    // The outage must find them mid-run, or "they continue afterwards" proves nothing.
    for (const jobId of jobIds) expect(isFinished(await getStatus(app.url, jobId))).toBe(false);

    // 1. Redis stopped: connections are refused.
    await redis.stop();
    const refused = await pollsDuringOutage(jobIds, 4);
    const refusedStartMs = await startDuringOutage();
    // The event stream refuses before it opens, in the usual JSON.
    const stream = await fetch(`${app.url}/api/generation/events?jobId=${jobIds[0]}`, {
      signal: AbortSignal.timeout(15_000),
    });
    await expectApiError(stream, 503, "store_unavailable");
    const image = await fetch(`${app.url}${finished.imageUrl}`);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toMatch(/^image\//);
    await redis.start();
    const reconnectMs = await untilAnswering(jobIds[0] ?? "");
    await leases.connect();
    let strandedLeases = await cutLeases(leases, PREFIX, STRANDED_LEASE_MS);

    // 2. Redis frozen: connections stay open and nothing answers.
    redis.pause();
    const frozen = await pollsDuringOutage(jobIds, 1);
    const frozenStartMs = await startDuringOutage();
    redis.resume();
    await untilAnswering(jobIds[0] ?? "");
    strandedLeases += await cutLeases(leases, PREFIX, STRANDED_LEASE_MS);
    await leases.close();

    const finals: PublicJob[] = [];
    for (const jobId of jobIds) {
      const { final } = await pollUntilDone([app.url], jobId, { intervalMs: 200, timeoutMs: 60_000 });
      finals.push(final);
      expect(final.status, final.error ?? "").toBe("completed");
      expect(await localSubmitsByStep(app.dataDir, jobId)).toEqual(ONCE_EACH);
    }
    expect(finals.every(isFinished)).toBe(true);

    const all = [...refused, ...frozen];
    expect(Math.max(...all, refusedStartMs, frozenStartMs)).toBeLessThan(OUTAGE_ANSWER_BUDGET_MS);
    report("store outage", {
      pollsDuringOutage: all.length,
      stoppedP50Ms: percentile(refused, 0.5),
      stoppedP99Ms: percentile(refused, 0.99),
      frozenP50Ms: percentile(frozen, 0.5),
      frozenMaxMs: Math.max(...frozen),
      startRefusedStoppedMs: refusedStartMs,
      startRefusedFrozenMs: frozenStartMs,
      reconnectMs,
      strandedLeasesCut: strandedLeases,
      jobsCompleted: finals.length,
    });
  }, 150_000);
});
