import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listLocalTasks } from "@/lib/providers/local";
import type { PublicJob } from "@/lib/public-job";
import { JOB_STATUSES, STEP_NAMES } from "@/lib/step-catalogue";
import { type AppServer, startApp, tempDir } from "@/tests/support/app-server";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { getStatus, startJobOver } from "@/tests/support/poll";
import { requireRedis, TEST_REDIS_URL } from "@/tests/support/redis";

const hasRedis = await requireRedis("two app processes sharing one Redis");

/** Every offline task recorded for a job, counted by step: each must be exactly one. */
async function submitsByStep(dataDir: string, jobId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const task of await listLocalTasks(path.join(dataDir, "local-studio"))) {
    if (!task.idempotencyKey.startsWith(jobId)) continue;
    const step = task.idempotencyKey.slice(jobId.length + 1).replace(/-\d+$/, "");
    counts[step] = (counts[step] ?? 0) + 1;
  }
  return counts;
}

const ONCE_EACH = Object.fromEntries(STEP_NAMES.map((step) => [step, 1]));
const rank = (status: PublicJob["status"]) => JOB_STATUSES.indexOf(status);

/** Polls from every server at once, `parallel` requests per round, until the job ends. */
async function hammer(urls: string[], jobId: string, parallel: number): Promise<PublicJob[]> {
  const seen: PublicJob[] = [];
  for (let round = 0; round < 400; round++) {
    const batch = await Promise.all(
      Array.from({ length: parallel }, (_, i) => getStatus(urls[i % urls.length] ?? "", jobId)),
    );
    seen.push(...batch);
    if (batch.some((job) => job.status === "completed" || job.status === "failed")) {
      return [...seen, await getStatus(urls[0] ?? "", jobId)];
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${jobId} did not finish`);
}

/** Within one server's answers in updatedAt order, the status never moves backwards. */
function expectForwardOnly(seen: PublicJob[]) {
  // Writes within the same millisecond tie on updatedAt; rank breaks only those ties.
  const ordered = [...seen].sort(
    (a, b) => a.updatedAt.localeCompare(b.updatedAt) || rank(a.status) - rank(b.status),
  );
  for (let i = 1; i < ordered.length; i++) {
    const [before, after] = [ordered[i - 1], ordered[i]];
    if (before && after) expect(rank(after.status)).toBeGreaterThanOrEqual(rank(before.status));
  }
}

describe("50 simultaneous polls of one job", () => {
  let app: AppServer;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => app?.stop());

  it("submits every step exactly once and only moves forward", async () => {
    const form = startForm({
      person: await personPhoto(),
      garment: await garmentPhoto(),
      occasion: "Job interview",
    });
    const jobId = await startJobOver(app.url, form);
    const seen = await hammer([app.url], jobId, 50);
    expect(seen.at(-1)?.status).toBe("completed");
    expectForwardOnly(seen);
    expect(await submitsByStep(app.dataDir, jobId)).toEqual(ONCE_EACH);
  });
});

describe.skipIf(!hasRedis)("two app processes sharing one Redis", () => {
  const apps: AppServer[] = [];
  const dataDir = tempDir("shared");
  beforeAll(async () => {
    const env = { REDIS_URL: TEST_REDIS_URL, STORE_KEY_PREFIX: `test-${randomBytes(4).toString("hex")}` };
    apps.push(await startApp(env, dataDir), await startApp(env, dataDir));
  });
  afterAll(async () => Promise.all(apps.map((app) => app.stop())));

  it("submits every step of every job exactly once while both poll the same jobs", async () => {
    const person = await personPhoto();
    const garment = await garmentPhoto("#2e86c1");
    const urls = apps.map((app) => app.url);
    const jobIds = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        startJobOver(urls[i % 2] ?? "", startForm({ person, garment, occasion: `Weekend casual ${i}` })),
      ),
    );
    const runs = await Promise.all(jobIds.map((jobId) => hammer(urls, jobId, 10)));
    for (const [i, jobId] of jobIds.entries()) {
      expect(runs[i]?.at(-1)?.status).toBe("completed");
      expect(await submitsByStep(dataDir, jobId)).toEqual(ONCE_EACH);
    }
  });
});
