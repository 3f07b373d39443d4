import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobCodec } from "@/lib/jobs/job-store";
import { createSqliteStore } from "@/lib/store/sqlite";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import {
  colour,
  expectApiError,
  isFinished,
  listFiles,
  pollRecording,
  report,
  sleep,
} from "@/tests/support/hostile";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { getStatus, startJobOver } from "@/tests/support/poll";
import { klingTasksByExternalId, ledgerOf } from "@/tests/support/vendor-ledger";

const TASK_MS = 1_500;

let person: Buffer;
let garment: Buffer;
/** Rate limit 3 per minute, no cap, behind one trusted proxy (the client is the right-most hop). */
let limited: AppServer;
/** At most 2 jobs in progress, no rate limit. */
let capped: AppServer;
/** Two apps with their own emulators, for one tab and for a hundred. */
let quiet: { vendors: VendorEmulators; app: AppServer };
let busy: { vendors: VendorEmulators; app: AppServer };

// Every app boots at once: booting is most of this file's wall time otherwise.
beforeAll(async () => {
  const withVendors = async () => {
    const vendors = await startVendorEmulators(TASK_MS);
    return { vendors, app: await startApp(vendors.env) };
  };
  [person, garment, limited, capped, quiet, busy] = await Promise.all([
    personPhoto(),
    garmentPhoto(),
    startApp({
      START_RATE_LIMIT: "3",
      START_RATE_WINDOW_SECONDS: "60",
      MAX_ACTIVE_JOBS: "0",
      TRUSTED_PROXY_HOPS: "1",
    }),
    startApp({ MAX_ACTIVE_JOBS: "2", START_RATE_LIMIT: "0" }),
    withVendors(),
    withVendors(),
  ]);
});
afterAll(async () => {
  await Promise.all([limited?.stop(), capped?.stop(), quiet?.app.stop(), busy?.app.stop()]);
  await Promise.all([quiet?.vendors.close(), busy?.vendors.close()]);
});

const form = (occasion = "Party") => startForm({ person, garment, occasion });

function start(app: AppServer, forwardedFor?: string): Promise<Response> {
  const headers: Record<string, string> = forwardedFor ? { "x-forwarded-for": forwardedFor } : {};
  return fetch(`${app.url}/api/generation/start`, { method: "POST", body: form(), headers });
}

async function expectRetryAfter(response: Response, max: number): Promise<number> {
  const seconds = Number(response.headers.get("retry-after"));
  expect(Number.isInteger(seconds) && seconds >= 1 && seconds <= max, `Retry-After ${seconds}`).toBe(true);
  return seconds;
}

describe("per-client rate limit on start", () => {
  it("lets a client start 3 jobs per window, refuses the 4th with 429 and Retry-After, and counts per IP", async () => {
    const client = "203.0.113.7";
    for (let i = 0; i < 3; i++) expect((await start(limited, client)).status).toBe(202);
    const blobs = listFiles(path.join(limited.dataDir, "blobs"));
    const refusedAt = Date.now();
    const refused = await start(limited, client);
    const refusedMs = Date.now() - refusedAt;
    const retryAfter = await expectRetryAfter(refused, 60);
    await expectApiError(refused, 429, "rate_limited");
    // The trusted proxy appends the client last: what the client wrote before it does not make a new client.
    await expectApiError(await start(limited, `10.0.0.1, ${client}`), 429, "rate_limited");
    expect(listFiles(path.join(limited.dataDir, "blobs"))).toEqual(blobs);
    // Other clients, and requests without a forwarded address (one shared bucket), have their own allowance.
    expect((await start(limited, "198.51.100.9")).status).toBe(202);
    expect((await start(limited)).status).toBe(202);
    // (Refused before any photo is decoded: refusedMs is what one refused request costs the server.)
    report("abuse: rate limit", { allowed: 3, retryAfterSeconds: retryAfter, refusedMs });
  });

  it("holds the limit under a burst of simultaneous starts from one client", async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => start(limited, "192.0.2.44")));
    const accepted = answers.filter((response) => response.status === 202).length;
    for (const response of answers.filter((r) => r.status !== 202)) {
      await expectApiError(response, 429, "rate_limited");
    }
    report("abuse: burst against the rate limit", { limit: 3, burst: 10, accepted });
    expect(accepted).toBe(3);
  });
});

describe("cap on jobs in progress", () => {
  it("refuses a start with 429 while the cap is reached, and accepts again once jobs finish", async () => {
    const jobIds = [await startJobOver(capped.url, form()), await startJobOver(capped.url, form())];
    const blobs = listFiles(path.join(capped.dataDir, "blobs"));
    const refused = await start(capped);
    const retryAfter = await expectRetryAfter(refused, 300);
    await expectApiError(refused, 429, "too_many_active_jobs");
    expect(listFiles(path.join(capped.dataDir, "blobs"))).toEqual(blobs);
    for (const jobId of jobIds)
      expect((await pollRecording(capped.url, jobId)).final.status).toBe("completed");
    expect((await start(capped)).status).toBe(202);
    report("abuse: active-jobs cap", { cap: 2, retryAfterSeconds: retryAfter });
  });

  it("holds the cap under a burst of simultaneous starts", async () => {
    const store = createSqliteStore({
      codec: jobCodec,
      file: path.join(capped.dataDir, "jobs.db"),
      ttlSeconds: 3600,
    });
    try {
      // Let the previous test's job finish, so the burst starts from an empty slate.
      while ((await store.countActive(Date.now() - 15 * 60_000)) > 0) {
        for (const id of await store.listDue(Date.now() + 60_000, 10)) await getStatus(capped.url, id);
        await sleep(200);
      }
    } finally {
      await store.close();
    }
    const answers = await Promise.all(Array.from({ length: 8 }, () => start(capped)));
    const accepted = answers.filter((response) => response.status === 202).length;
    for (const response of answers.filter((r) => r.status !== 202)) {
      await expectApiError(response, 429, "too_many_active_jobs");
    }
    report("abuse: burst against the cap", { cap: 2, burst: 8, accepted });
    expect(accepted).toBeLessThanOrEqual(2);
  });
});

describe("the nextCheckAt throttle", () => {
  const TABS = 100;

  const checksOf = ({ vendors }: { vendors: VendorEmulators }) =>
    vendors.openai.checks + vendors.kling.checks + vendors.replicate.checks;

  /** `tabs` browser tabs polling one job every 250 ms (each waits for its answer) until it finishes. */
  async function pollWithTabs(app: AppServer, jobId: string, tabs: number): Promise<number> {
    let polls = 0;
    let done = false;
    await Promise.all(
      Array.from({ length: tabs }, async (_, tab) => {
        await sleep((tab * 250) / tabs);
        while (!done) {
          const job = await getStatus(app.url, jobId);
          polls++;
          if (isFinished(job)) done = true;
          else await sleep(250);
        }
      }),
    );
    return polls;
  }

  it("costs the providers no more checks for a job polled by 100 tabs than by one", async () => {
    const started = Date.now();
    const startOn = async (app: AppServer, i: number) =>
      startJobOver(app.url, startForm({ person, garment: await garmentPhoto(colour(i)), occasion: "Tabs" }));
    const [quietJob, busyJob] = await Promise.all([startOn(quiet.app, 0), startOn(busy.app, 1)]);
    const [quietPolls, busyPolls] = await Promise.all([
      pollWithTabs(quiet.app, quietJob, 1),
      pollWithTabs(busy.app, busyJob, TABS),
    ]);
    const seconds = Math.round((Date.now() - started) / 1000);
    for (const [side, jobId] of [
      [quiet, quietJob],
      [busy, busyJob],
    ] as const) {
      expect((await getStatus(side.app.url, jobId)).status).toBe("completed");
      const store = createSqliteStore({
        codec: jobCodec,
        file: path.join(side.app.dataDir, "jobs.db"),
        ttlSeconds: 3600,
      });
      const job = await store.get(jobId);
      await store.close();
      if (!job) throw new Error("job gone");
      const spent = await ledgerOf(
        side.vendors,
        job,
        side.app.dataDir,
        await klingTasksByExternalId(side.vendors),
      );
      expect(spent).toMatchObject({ advice: 1, style: 1, tryon: 1, faceswap: 1 });
    }
    const [oneTab, manyTabs] = [checksOf(quiet), checksOf(busy)];
    report("abuse: 100 tabs", { oneTab, manyTabs, quietPolls, busyPolls, seconds });
    expect(busyPolls).toBeGreaterThan(20 * quietPolls);
    expect(manyTabs).toBeLessThanOrEqual(oneTab + 2);
  });
});
