import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { keysFor } from "@/lib/store/keys";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { filesUnder, OwnerClient } from "@/tests/support/owner-client";
import { requireRedis, TEST_REDIS_URL } from "@/tests/support/redis";

const TTL_S = 3;
const CRON_SECRET = `cron-${randomBytes(8).toString("hex")}`;
const BASE_ENV = { JOB_TTL_SECONDS: String(TTL_S), CRON_SECRET, LOCAL_STUDIO_STEP_MS: "100" };

let person: Buffer;
let garment: Buffer;
beforeAll(async () => {
  person = await personPhoto();
  garment = await garmentPhoto("#8e44ad");
});

/** Files under DATA_DIR naming the job (blobs by folder, the offline studio's tasks by content). */
async function filesOfJob(app: AppServer, jobId: string): Promise<string[]> {
  return (await filesUnder(app.dataDir)).filter(
    (file) =>
      file.includes(jobId) ||
      (!file.startsWith("jobs.db") && readFileSync(path.join(app.dataDir, file)).includes(jobId)),
  );
}

/** Makes a look, waits until it finished and its record expired, and returns what it showed. */
async function expiredLook(app: AppServer): Promise<{ jobId: string; urls: Set<string> }> {
  const browser = new OwnerClient(app.url);
  const jobId = await browser.start(startForm({ person, garment, occasion: "Short-lived" }));
  const { final, urls } = await browser.pollUntilDone(jobId, 30_000);
  expect(final.status).toBe("completed");
  expect(await filesOfJob(app, jobId)).not.toEqual([]);
  await sleep(TTL_S * 1000 + 500);
  // The record went by its TTL; until a sweep, its files are still there (what this is about).
  expect((await browser.status(jobId)).status).toBe(404);
  return { jobId, urls };
}

async function cronSweep(
  app: AppServer,
): Promise<{ retention: { expired: number; erased: number; errors: number } }> {
  const response = await fetch(`${app.url}/api/cron/advance`, {
    headers: { authorization: `Bearer ${CRON_SECRET}` },
  });
  expect(response.status).toBe(200);
  return response.json();
}

async function expectNothingServed(app: AppServer, urls: Set<string>): Promise<void> {
  for (const url of urls) expect((await fetch(`${app.url}${url}`)).status, url).toBe(404);
}

describe("retention with the embedded store (issue 14)", () => {
  let app: AppServer;
  beforeAll(async () => {
    app = await startApp({ ...BASE_ENV, RETENTION_SWEEP_SECONDS: "3600" });
  });
  afterAll(async () => {
    await app?.stop();
  });

  function rowsOfJob(jobId: string): number {
    const db = new Database(path.join(app.dataDir, "jobs.db"), { readonly: true });
    try {
      const count = (sql: string) => (db.prepare(sql).get(jobId) as { n: number }).n;
      return (
        count("SELECT COUNT(*) AS n FROM jobs WHERE id = ? AND expires_at > 0") +
        count("SELECT COUNT(*) AS n FROM leases WHERE job_id = ?") +
        count("SELECT COUNT(*) AS n FROM record_index WHERE id = ?")
      );
    } finally {
      db.close();
    }
  }

  it("leaves nothing of an expired job once the cron sweep ran: files, records, indexes", async () => {
    const { jobId, urls } = await expiredLook(app);
    expect(rowsOfJob(jobId)).toBeGreaterThan(0);
    const { retention } = await cronSweep(app);
    expect(retention).toMatchObject({ erased: 1, errors: 0 });
    expect(await filesOfJob(app, jobId)).toEqual([]);
    expect(rowsOfJob(jobId)).toBe(0);
    await expectNothingServed(app, urls);
    expect((await cronSweep(app)).retention.expired).toBe(0);
  });
});

describe("retention without a cron: the app sweeps by itself", () => {
  let app: AppServer;
  beforeAll(async () => {
    app = await startApp({ ...BASE_ENV, RETENTION_SWEEP_SECONDS: "1" });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("deletes an expired job's files within a sweep period of ordinary requests", async () => {
    const { jobId, urls } = await expiredLook(app);
    const visitor = new OwnerClient(app.url);
    await vi.waitFor(
      async () => {
        await visitor.listLooks();
        expect(await filesOfJob(app, jobId)).toEqual([]);
        // The sweep's own line, once it has erased everything (the record and its index entries last).
        expect(app.output.some((line) => line.includes("retention.swept"))).toBe(true);
      },
      { timeout: 10_000, interval: 600 },
    );
    await expectNothingServed(app, urls);
  });
});

const hasRedis = await requireRedis("retention (Redis)");

describe.skipIf(!hasRedis)("retention with Redis", () => {
  const prefix = `test-retention-${randomBytes(4).toString("hex")}`;
  const admin = createClient({ url: TEST_REDIS_URL });
  let app: AppServer;
  beforeAll(async () => {
    await admin.connect();
    app = await startApp({
      ...BASE_ENV,
      RETENTION_SWEEP_SECONDS: "3600",
      REDIS_URL: TEST_REDIS_URL,
      STORE_KEY_PREFIX: prefix,
    });
  });
  afterAll(async () => {
    await app?.stop();
    for await (const keys of admin.scanIterator({ MATCH: `${prefix}:*`, COUNT: 100 })) {
      if (keys.length > 0) await admin.del(keys);
    }
    await admin.close();
  });

  /** Every trace of the job in Redis: keys naming it, members of the sorted sets, fields of the hash. */
  async function tracesOf(jobId: string): Promise<string[]> {
    const keys = keysFor(prefix);
    const traces: string[] = [];
    for await (const batch of admin.scanIterator({ MATCH: `${prefix}:*`, COUNT: 100 })) {
      for (const key of batch) {
        if (key.includes(jobId)) traces.push(key);
        const type = await admin.type(key);
        if (type === "zset" && (await admin.zScore(key, jobId)) !== null) traces.push(`${key} ∋ ${jobId}`);
        if (type === "hash" && (await admin.hExists(key, jobId))) traces.push(`${key}[${jobId}]`);
      }
    }
    expect(keys.retention().startsWith(prefix)).toBe(true);
    return traces;
  }

  it("leaves nothing of an expired job once the cron sweep ran: files, keys, index entries", async () => {
    const { jobId, urls } = await expiredLook(app);
    // The record key expired by itself; the retention index still names the job, for the sweep.
    expect(await tracesOf(jobId)).toContain(`${keysFor(prefix).retention()} ∋ ${jobId}`);
    const { retention } = await cronSweep(app);
    expect(retention).toMatchObject({ erased: 1, errors: 0 });
    expect(await filesOfJob(app, jobId)).toEqual([]);
    expect(await tracesOf(jobId)).toEqual([]);
    await expectNothingServed(app, urls);
  });
});
