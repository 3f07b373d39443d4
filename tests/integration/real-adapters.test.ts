import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppServer, startApp, tempDir } from "@/tests/support/app-server";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { getStatus, pollUntilDone, startJobOver } from "@/tests/support/poll";
import { requireRedis, TEST_REDIS_URL } from "@/tests/support/redis";

const hasRedis = await requireRedis("real adapters: two app processes sharing one Redis");

let vendors: VendorEmulators;
beforeAll(async () => {
  vendors = await startVendorEmulators(400);
});
afterAll(async () => vendors?.close());

/** Distinct garment colours make every job's images (and so Replicate's per-input count) distinct. */
const colour = (i: number) => `#${(0x203040 + i * 0x1f2b17).toString(16).slice(-6)}`;

/** Each vendor saw exactly one create for each of this job's steps. */
function expectOneCreatePerStep(jobId: string) {
  expect(vendors.openai.creates().get(`${jobId}-advice`)).toBe(1);
  expect(vendors.kling.creates().get(`${jobId}-style`)).toBe(1);
  expect(vendors.kling.creates().get(`${jobId}-tryon`)).toBe(1);
}

describe("a job through the real adapters, against the vendor emulators", () => {
  let app: AppServer;
  beforeAll(async () => {
    app = await startApp(vendors.env);
  });
  afterAll(async () => app?.stop());

  it("completes with OpenAI advice and an image served from our own storage", async () => {
    const replicateBefore = vendors.replicate.creates().size;
    const openaiDeletesBefore = vendors.openai.deletes().length;
    const form = startForm({
      person: await personPhoto(),
      garment: await garmentPhoto(colour(1)),
      occasion: "Gala dinner",
    });
    const jobId = await startJobOver(app.url, form);
    const { final } = await pollUntilDone([app.url], jobId, { intervalMs: 200 });
    expect(final.status).toBe("completed");
    expect(final.advice?.source).toBe("openai");
    expect(final.advice?.summary).toMatch(/gala dinner/i);
    expect(final.imageUrl).toMatch(/^\/api\/files\//);
    for (const vendor of [vendors.openai, vendors.kling, vendors.replicate]) {
      expect(JSON.stringify(final)).not.toContain(vendor.url);
    }
    const image = await fetch(`${app.url}${final.imageUrl}`);
    expect(image.headers.get("content-type")).toMatch(/^image\//);
    expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).width).toBeGreaterThan(0);
    expectOneCreatePerStep(jobId);
    expect(vendors.replicate.creates().size).toBe(replicateBefore + 1);
    // Issue 14: OpenAI's stored response (the photos, the advice) was deleted once the advice was saved.
    const deleted = vendors.openai.deletes().slice(openaiDeletesBefore);
    expect(deleted).toHaveLength(1);
    expect(vendors.openai.hasResponse(deleted[0] ?? "")).toBe(false);
  });

  it("submits each step once under 50 simultaneous polls", async () => {
    const replicateBefore = [...vendors.replicate.creates().values()].reduce((a, b) => a + b, 0);
    const form = startForm({
      person: await personPhoto(),
      garment: await garmentPhoto(colour(2)),
      occasion: "Brunch",
    });
    const jobId = await startJobOver(app.url, form);
    for (let round = 0; round < 200; round++) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => getStatus(app.url, jobId)));
      if (batch.some((job) => job.status === "completed" || job.status === "failed")) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await getStatus(app.url, jobId)).status).toBe("completed");
    expectOneCreatePerStep(jobId);
    const replicateAfter = [...vendors.replicate.creates().values()].reduce((a, b) => a + b, 0);
    expect(replicateAfter - replicateBefore).toBe(1);
  });
});

describe.skipIf(!hasRedis)("two app processes on one Redis, with the real adapters", () => {
  const apps: AppServer[] = [];
  beforeAll(async () => {
    const env = {
      ...vendors.env,
      REDIS_URL: TEST_REDIS_URL,
      STORE_KEY_PREFIX: `test-${randomBytes(4).toString("hex")}`,
    };
    const dataDir = tempDir("shared-real");
    apps.push(await startApp(env, dataDir), await startApp(env, dataDir));
  });
  afterAll(async () => Promise.all(apps.map((app) => app.stop())));

  it("creates every vendor task exactly once while both poll the same jobs", async () => {
    const urls = apps.map((app) => app.url);
    const replicateBefore = [...vendors.replicate.creates().values()].reduce((a, b) => a + b, 0);
    const person = await personPhoto();
    const jobIds = await Promise.all(
      [10, 11, 12, 13].map(async (i) =>
        startJobOver(
          urls[i % 2] ?? "",
          startForm({ person, garment: await garmentPhoto(colour(i)), occasion: `Trip ${i}` }),
        ),
      ),
    );
    await Promise.all(
      jobIds.map(async (jobId) => {
        const pollers = urls
          .flatMap((url) => [url, url, url])
          .map((url) => pollUntilDone([url], jobId, { intervalMs: 50 }));
        const finals = await Promise.all(pollers);
        for (const { final } of finals) expect(final.status).toBe("completed");
      }),
    );
    for (const jobId of jobIds) expectOneCreatePerStep(jobId);
    const replicateAfter = [...vendors.replicate.creates().values()].reduce((a, b) => a + b, 0);
    expect(replicateAfter - replicateBefore).toBe(jobIds.length);
    expect([...vendors.replicate.creates().values()].every((count) => count === 1)).toBe(true);
  });
});

describe("REPLICATE_API_BASE_URL in either form", () => {
  // Replicate's docs and its own client give the base with /v1; the adapter's paths carry /v1 too.
  for (const suffix of ["/v1", ""]) {
    it(`completes a job with the base set to <emulator>${suffix}`, async () => {
      const app = await startApp({
        ...vendors.env,
        REPLICATE_API_BASE_URL: `${vendors.replicate.url}${suffix}`,
      });
      try {
        const before = [...vendors.replicate.creates().values()].reduce((a, b) => a + b, 0);
        const form = startForm({
          person: await personPhoto(),
          garment: await garmentPhoto(colour(suffix ? 20 : 21)),
          occasion: `Base URL ${suffix || "bare"}`,
        });
        const jobId = await startJobOver(app.url, form);
        const { final } = await pollUntilDone([app.url], jobId, { intervalMs: 200 });
        expect(final.status).toBe("completed");
        const after = [...vendors.replicate.creates().values()].reduce((a, b) => a + b, 0);
        expect(after - before).toBe(1);
      } finally {
        await app.stop();
      }
    });
  }
});
