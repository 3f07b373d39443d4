import { readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { OwnerClient, waitUntil } from "@/tests/support/owner-client";
import { getStatus, pollUntilDone } from "@/tests/support/poll";

/**
 * Cancel and redo (issue 15) through the real adapters against the vendor emulators: what each
 * vendor was asked to create and to cancel is the proof that a cancel stops the spending and that a
 * redo pays only for the steps it redoes.
 */

let vendors: VendorEmulators;
let app: AppServer;
let owner: OwnerClient;
beforeAll(async () => {
  vendors = await startVendorEmulators(400);
  app = await startApp(vendors.env);
  owner = new OwnerClient(app.url);
});
afterEach(() => {
  // A fault a test did not use up must not reach the next test's job.
  for (const vendor of [vendors.openai, vendors.kling, vendors.replicate]) vendor.faults.length = 0;
});
afterAll(async () => {
  await app?.stop();
  await vendors?.close();
});

const colour = (i: number) => `#${(0x402010 + i * 0x1b2f13).toString(16).slice(-6)}`;
const replicateCreates = () => [...vendors.replicate.creates().values()].reduce((a, b) => a + b, 0);

async function startLook(i: number, occasion = `Look ${i}`): Promise<string> {
  const form = startForm({ person: await personPhoto(), garment: await garmentPhoto(colour(i)), occasion });
  return owner.start(form);
}

/** Polls as a person would until the job shows `status`. */
async function pollUntilStatus(jobId: string, status: string) {
  await waitUntil(
    `job ${jobId} is ${status}`,
    async () => (await getStatus(app.url, jobId)).status === status,
  );
}

describe("POST /api/generation/jobs/{jobId}/cancel", () => {
  it("during the style step: the job fails `cancelled`, no try-on or face swap follows, 50 polls change nothing", async () => {
    vendors.kling.faults.push({ on: "create", match: "/v1/images/generations", kind: "never-finishes" });
    const replicateBefore = replicateCreates();
    const jobId = await startLook(1);
    await pollUntilStatus(jobId, "processing-style");
    await waitUntil("Kling has the style task", () => vendors.kling.creates().get(`${jobId}-style`) === 1);

    const response = await owner.cancel(jobId);
    expect(response.status).toBe(200);
    const view = await response.json();
    expect(view).toMatchObject({
      jobId,
      status: "failed",
      error: "You cancelled this look.",
      errorCode: "cancelled",
      pollAfterMs: null,
    });

    const polls = await Promise.all(Array.from({ length: 50 }, () => getStatus(app.url, jobId)));
    for (const poll of polls) {
      expect(poll).toMatchObject({ status: "failed", errorCode: "cancelled", updatedAt: view.updatedAt });
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await getStatus(app.url, jobId)).toMatchObject({ status: "failed", updatedAt: view.updatedAt });
    expect(vendors.kling.creates().get(`${jobId}-style`)).toBe(1);
    expect(vendors.kling.creates().get(`${jobId}-tryon`)).toBeUndefined();
    expect(replicateCreates()).toBe(replicateBefore);
  });

  it("during advice: OpenAI's response in flight gets its cancel call, and Kling is never asked", async () => {
    vendors.openai.faults.push({ on: "create", kind: "never-finishes" });
    const cancelsBefore = vendors.openai.cancels().length;
    const jobId = await startLook(2);
    await waitUntil(
      "OpenAI has the advice response",
      () => vendors.openai.creates().get(`${jobId}-advice`) === 1,
    );

    const view = await (await owner.cancel(jobId)).json();
    expect(view).toMatchObject({ status: "failed", errorCode: "cancelled" });
    await waitUntil(
      "OpenAI was asked to cancel",
      () => vendors.openai.cancels().length === cancelsBefore + 1,
    );
    for (let i = 0; i < 50; i++) expect((await getStatus(app.url, jobId)).status).toBe("failed");
    expect(vendors.kling.creates().get(`${jobId}-style`)).toBeUndefined();
  });

  it("during the face swap: Replicate's prediction in flight gets its cancel call", async () => {
    vendors.replicate.faults.push({ on: "create", kind: "never-finishes" });
    const cancelsBefore = vendors.replicate.cancels().length;
    const createsBefore = replicateCreates();
    const jobId = await startLook(3);
    await pollUntilStatus(jobId, "processing-faceswap");
    await waitUntil("Replicate has the prediction", () => replicateCreates() === createsBefore + 1);

    const view = await (await owner.cancel(jobId)).json();
    expect(view).toMatchObject({ status: "failed", errorCode: "cancelled", imageUrl: null });
    await waitUntil(
      "Replicate was asked to cancel",
      () => vendors.replicate.cancels().length === cancelsBefore + 1,
    );
    for (let i = 0; i < 50; i++) expect((await getStatus(app.url, jobId)).status).toBe("failed");
    expect(replicateCreates()).toBe(createsBefore + 1);
  });
});

describe("POST /api/generation/jobs/{jobId}/redo", () => {
  it("from tryon: one try-on and one face swap, no advice or style, every image under the new job's prefix", async () => {
    const sourceId = await startLook(5);
    const source = (await pollUntilDone([app.url], sourceId, { intervalMs: 100 })).final;
    expect(source.status).toBe("completed");
    const replicateBefore = replicateCreates();

    const response = await owner.redo(sourceId, { from: "tryon" });
    expect(response.status).toBe(202);
    const { jobId } = await response.json();
    expect(jobId).not.toBe(sourceId);
    expect(response.headers.get("location")).toBe(`/api/generation/status?jobId=${jobId}`);

    const { seen } = await pollUntilDone([app.url], jobId, { intervalMs: 100 });
    // The owner's view: it names the person's photo (a shared link's would not).
    const final = await (await owner.fetch(`/api/generation/status?jobId=${jobId}`)).json();
    expect(final).toMatchObject({ status: "completed", owned: true, occasion: source.occasion });
    expect(final.advice).toEqual(source.advice);
    expect(seen[0]).not.toBe("pending");
    expect(vendors.openai.creates().get(`${jobId}-advice`)).toBeUndefined();
    expect(vendors.kling.creates().get(`${jobId}-style`)).toBeUndefined();
    expect(vendors.kling.creates().get(`${jobId}-tryon`)).toBe(1);
    expect(replicateCreates()).toBe(replicateBefore + 1);

    expect(final.imageUrl).toMatch(new RegExp(`^/api/files/${jobId}/final-`));
    expect(final.personImageUrl).toMatch(new RegExp(`^/api/files/${jobId}/person-`));
    const files = readdirSync(path.join(app.dataDir, "blobs", jobId)).map((name) => name.split("-")[0]);
    expect(files.sort()).toEqual(["final", "garment", "person", "style", "tryon"]);
    // The source keeps its own files: the two looks share none.
    const sourceFiles = readdirSync(path.join(app.dataDir, "blobs", sourceId));
    expect(sourceFiles.map((name) => name.split("-")[0]).sort()).toEqual([
      "final",
      "garment",
      "person",
      "style",
      "tryon",
    ]);
  });

  it("refuses what it cannot redo: a missing output (409), a new occasion without advice (400), a bad step (400)", async () => {
    vendors.kling.faults.push({ on: "create", match: "/v1/images/generations", kind: "never-finishes" });
    const jobId = await startLook(6);
    await pollUntilStatus(jobId, "processing-style");
    await owner.cancel(jobId);
    const missing = await owner.redo(jobId, { from: "faceswap" });
    expect(missing.status).toBe(409);
    expect(await missing.json()).toMatchObject({ code: "redo_source_incomplete" });
    const occasion = await owner.redo(jobId, { from: "style", occasion: "Picnic" });
    expect(occasion.status).toBe(400);
    expect(await occasion.json()).toMatchObject({ code: "invalid_field" });
    const badStep = await owner.redo(jobId, { from: "everything" });
    expect(badStep.status).toBe(400);

    // From the style step the cancelled look's advice is reused: it completes without a new advice.
    const restyled = await owner.redo(jobId, { from: "style" });
    expect(restyled.status).toBe(202);
    const { jobId: newId } = await restyled.json();
    expect((await pollUntilDone([app.url], newId, { intervalMs: 100 })).final.status).toBe("completed");
    expect(vendors.openai.creates().get(`${newId}-advice`)).toBeUndefined();
    expect(vendors.kling.creates().get(`${newId}-style`)).toBe(1);
  });

  it("answers a reused Idempotency-Key with the same new job", async () => {
    // From advice a look in progress can be redone too: it needs nothing but the photos.
    const sourceId = await startLook(7);
    const key = `redo-${sourceId}`;
    const first = await owner.redo(sourceId, { from: "advice" }, { "idempotency-key": key });
    const again = await owner.redo(sourceId, { from: "advice" }, { "idempotency-key": key });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await again.json()).jobId).toBe((await first.json()).jobId);
  });
});

describe("only the owner may cancel or redo", () => {
  it("answers 403 not_owner without a cookie and with another owner's; the look goes on, and a late cancel changes nothing", async () => {
    const jobId = await startLook(8);
    const anonymous = new OwnerClient(app.url);
    const stranger = OwnerClient.stranger(app.url);
    for (const caller of [anonymous, stranger]) {
      for (const response of [await caller.cancel(jobId), await caller.redo(jobId, { from: "advice" })]) {
        expect(response.status).toBe(403);
        expect(await response.json()).toMatchObject({ code: "not_owner" });
      }
    }
    const crossSite = await owner.fetch(`/api/generation/jobs/${jobId}/cancel`, {
      method: "POST",
      headers: { origin: "https://elsewhere.example" },
    });
    expect(crossSite.status).toBe(403);
    expect(await crossSite.json()).toMatchObject({ code: "cross_site_request" });
    const { final } = await pollUntilDone([app.url], jobId, { intervalMs: 100 });
    expect(final.status).toBe("completed");

    // The owner's cancel of a finished look changes nothing and answers its view.
    const late = await owner.cancel(jobId);
    expect(late.status).toBe(200);
    expect(await late.json()).toMatchObject({ status: "completed", updatedAt: final.updatedAt });
    const unknown = await owner.cancel("6f1c0c1e-3b1a-4c5e-9d2f-0a1b2c3d4e5f");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: "job_not_found" });
  });
});

describe("errorCode through the real adapters, from each vendor's documented answers", () => {
  it("Kling's content-policy code 1301 on the style create: content_policy", async () => {
    vendors.kling.faults.push({
      on: "create",
      match: "/v1/images/generations",
      kind: "http",
      status: 400,
      code: 1301,
      message: "risk control",
    });
    const jobId = await startLook(20);
    const { final } = await pollUntilDone([app.url], jobId, { intervalMs: 100 });
    expect(final).toMatchObject({ status: "failed", errorCode: "content_policy" });
    expect(vendors.kling.creates().get(`${jobId}-tryon`)).toBeUndefined();
  });

  it("OpenAI refusing with 429 until the step's retries run out: provider_unavailable", async () => {
    // ADVICE.retry.maxFailures (4) refused creates (nothing made, so each is retried); SDK retries are off.
    vendors.openai.faults.push({ on: "create", kind: "http", status: 429, times: 4 });
    const jobId = await startLook(21);
    const { final } = await pollUntilDone([app.url], jobId, { intervalMs: 200, timeoutMs: 90_000 });
    expect(final).toMatchObject({ status: "failed", errorCode: "provider_unavailable" });
    expect(final.error).toMatch(/We tried 4 times/);
    expect(vendors.openai.faults).toHaveLength(0);
  });

  it("OpenAI's 5xx on two creates in a row (outcome unknown, no lookup): provider_unavailable", async () => {
    vendors.openai.faults.push({ on: "create", kind: "http", status: 503, times: 2 });
    const jobId = await startLook(23);
    const { final } = await pollUntilDone([app.url], jobId, { intervalMs: 200 });
    expect(final).toMatchObject({ status: "failed", errorCode: "provider_unavailable" });
    expect(vendors.openai.faults).toHaveLength(0);
  });

  it("Replicate's prediction failing with no face found: unusable_photo", async () => {
    vendors.replicate.faults.push({
      on: "create",
      kind: "task-fails",
      error: "No face detected in swap_image",
    });
    const jobId = await startLook(22);
    const { final } = await pollUntilDone([app.url], jobId, { intervalMs: 100 });
    expect(final).toMatchObject({ status: "failed", errorCode: "unusable_photo" });
  });
});
