import { upload } from "@vercel/blob/client";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { PublicJob } from "@/lib/public-job";
import { startVercelBlobEmulator, type VercelBlobEmulator } from "@/tests/emulators/vercel-blob";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { withConsentJson } from "@/tests/support/consent";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { OwnerClient } from "@/tests/support/owner-client";
import { jobEventsOf, readJobEvents } from "@/tests/support/sse";

/**
 * A private Vercel Blob store (the default BLOB_ACCESS) with the real adapters against the vendor
 * emulators: no URL of a stored image reaches the browser (start answer, status views, the event
 * stream) or a vendor
 * (what each emulator recorded) unsigned, every signed URL expires, and the vendors could read theirs.
 */

const MINUTE = 60_000;
/** The steps' deadlines (lib/jobs/pipeline.ts): a vendor's URL lives no longer than its step may. */
const DEADLINE_MS = { openai: 3 * MINUTE, kling: 6 * MINUTE, replicate: 5 * MINUTE };

let blob: VercelBlobEmulator;
let vendors: VendorEmulators;
let app: AppServer;

beforeAll(async () => {
  blob = await startVercelBlobEmulator({ access: "private" });
  vendors = await startVendorEmulators(300, {}, {}, [blob.url]);
  // BLOB_ACCESS is left unset: private is the default.
  app = await startApp({
    ...vendors.env,
    BLOB_READ_WRITE_TOKEN: blob.token,
    VERCEL_BLOB_API_URL: blob.url,
    VERCEL_BLOB_RETRIES: "0",
  });
  // upload() runs here, in the test process, as the browser would: it reads the same two variables.
  vi.stubEnv("VERCEL_BLOB_API_URL", blob.url);
  vi.stubEnv("VERCEL_BLOB_RETRIES", "0");
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await app?.stop();
  await vendors?.close();
  await blob?.close();
});

/** Every address of the Blob store inside `text` (JSON of answers or of recorded requests). */
function blobUrlsIn(text: string): URL[] {
  const escaped = blob.url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return [...text.matchAll(new RegExp(`${escaped}/[^"\\s]*`, "g"))].map((match) => new URL(match[0]));
}

/** `/<jobId>/final-<suffix>.jpg` → `final`: which of the job's images a URL names. */
const imageOf = (url: URL, jobId: string) => url.pathname.slice(`/${jobId}/`.length).split("-")[0];

/** Signed, and dead no later than `latest` (ms epoch). */
function expectSignedUntil(url: URL, latest: number) {
  expect(url.searchParams.get("vercel-blob-signature"), url.href).toBeTruthy();
  expect(url.searchParams.get("vercel-blob-delegation")).toBeTruthy();
  const validUntil = Number(url.searchParams.get("vercel-blob-valid-until"));
  expect(validUntil).toBeGreaterThan(Date.now());
  expect(validUntil).toBeLessThanOrEqual(latest);
}

async function statusOf(url: string | URL): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

/** The owner cookie a start set (`name=value`), which the page's polls carry. */
function ownerCookieOf(response: Response): string {
  const cookie = response.headers.get("set-cookie")?.split(";")[0] ?? "";
  expect(cookie).toMatch(/^ss_owner=/);
  return cookie;
}

/**
 * Polls like the owner's page, keeping every answer's raw text (what the browser received): the
 * owner's view shows the person's photo as well as the result.
 */
async function pollKeepingAnswers(jobId: string, cookie: string, answers: string[]): Promise<PublicJob> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await fetch(`${app.url}/api/generation/status?jobId=${jobId}`, {
      headers: { cookie },
    });
    const text = await response.text();
    answers.push(text);
    expect(response.status, text).toBe(200);
    const job = JSON.parse(text) as PublicJob;
    if (job.status === "completed" || job.status === "failed") return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** What the emulators were sent for this job: each vendor's create bodies, as JSON. */
function vendorRequestsOf(jobId: string) {
  const mentioning = (bodies: unknown[]) =>
    bodies.map((body) => JSON.stringify(body)).filter((t) => t.includes(jobId));
  return {
    openai: mentioning(vendors.openai.createRequests()),
    kling: mentioning(vendors.kling.createRequests()),
    // Replicate's body names no job: a face swap's inputs are this job's own blobs.
    replicate: vendors.replicate
      .createRequests()
      .map((request) => JSON.stringify(request.body))
      .filter((t) => t.includes(`/${jobId}/`)),
  };
}

describe("a look on a private Blob store, through the real adapters", () => {
  it("never shows the browser or a vendor an unsigned URL, and every signed one expires", async () => {
    const started = Date.now();
    const answers: string[] = [];
    const start = await fetch(`${app.url}/api/generation/start`, {
      method: "POST",
      body: startForm({
        person: await personPhoto(),
        garment: await garmentPhoto("#7d3c98"),
        occasion: "Opera",
      }),
    });
    answers.push(await start.clone().text());
    expect(start.status).toBe(202);
    const { jobId } = (await start.json()) as { jobId: string };
    const final = await pollKeepingAnswers(jobId, ownerCookieOf(start), answers);
    expect(final.status).toBe("completed");
    expect(final.advice?.source).toBe("openai");

    // The browser: the result and (to its owner) the person's photo, signed for about 15 minutes;
    // nothing else of the store, and nothing unsigned.
    const shown = answers.flatMap(blobUrlsIn);
    for (const url of shown) expect(url.pathname.startsWith(`/${jobId}/`)).toBe(true);
    expect(new Set(shown.map((url) => imageOf(url, jobId)))).toEqual(new Set(["final", "person"]));
    for (const url of shown) expectSignedUntil(url, Date.now() + 16 * MINUTE + 1_000);
    expect(await statusOf(final.personImageUrl ?? "")).toBe(200);
    // A shared link (no owner cookie) gets the result only, signed too.
    const shared = await fetch(`${app.url}/api/generation/status?jobId=${jobId}`);
    const sharedUrls = blobUrlsIn(await shared.text());
    expect(sharedUrls.map((url) => imageOf(url, jobId))).toEqual(["final"]);
    for (const url of sharedUrls) expectSignedUntil(url, Date.now() + 16 * MINUTE + 1_000);
    // The event stream (the page's live view) signs what it sends just the same.
    const streamed = jobEventsOf(await readJobEvents(app.url, jobId));
    const streamedUrls = streamed.flatMap(({ job }) => blobUrlsIn(JSON.stringify(job)));
    expect(streamedUrls.map((url) => imageOf(url, jobId))).toEqual(["final"]);
    for (const url of streamedUrls) expectSignedUntil(url, Date.now() + 16 * MINUTE + 1_000);
    const image = await fetch(final.imageUrl ?? "");
    expect(image.status).toBe(200);
    expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).format).toBe("jpeg");
    const unsigned = new URL(final.imageUrl ?? "");
    unsigned.search = "";
    expect(await statusOf(unsigned)).toBe(403);

    // The vendors: every photo as a signed URL, living no longer than its step's deadline.
    const sent = vendorRequestsOf(jobId);
    const urlsSent = {
      openai: sent.openai.flatMap(blobUrlsIn),
      kling: sent.kling.flatMap(blobUrlsIn),
      replicate: sent.replicate.flatMap(blobUrlsIn),
    };
    // advice: person + garment; style: person; try-on: styled + garment; face swap: target + face.
    expect(urlsSent.openai).toHaveLength(2);
    expect(urlsSent.kling).toHaveLength(3);
    expect(urlsSent.replicate).toHaveLength(2);
    for (const vendor of ["openai", "kling", "replicate"] as const) {
      for (const url of urlsSent[vendor]) expectSignedUntil(url, Date.now() + DEADLINE_MS[vendor]);
      // No body carries the photo any other way (no base64 fallback in private mode).
      for (const body of sent[vendor]) expect(body).not.toMatch(/base64|\/9j\//);
    }

    // Nobody even tried an unsigned read: the vendors fetched their signed URLs, and they worked.
    const readsOfJob = blob.reads().filter((read) => read.pathname.startsWith(`${jobId}/`));
    expect(
      readsOfJob.filter((read) => read.auth === "signed" && read.status === 200).length,
    ).toBeGreaterThanOrEqual(5);
    expect(readsOfJob.filter((read) => !["token", "signed"].includes(read.auth))).toEqual([
      { pathname: unsigned.pathname.slice(1), auth: "unsigned", status: 403 },
    ]);

    // Expiry, on the store's clock: a vendor's URL after its step's deadline, the page's after 16 min.
    const klingUrl = urlsSent.kling[0] as URL;
    expect(await statusOf(klingUrl)).toBe(200);
    blob.advanceClock(DEADLINE_MS.kling + (Date.now() - started));
    try {
      expect(await statusOf(klingUrl)).toBe(403);
      blob.advanceClock(16 * MINUTE);
      expect(await statusOf(final.imageUrl ?? "")).toBe(403);
    } finally {
      blob.advanceClock(-(DEADLINE_MS.kling + (Date.now() - started) + 16 * MINUTE));
    }
    expect(await statusOf(final.imageUrl ?? "")).toBe(200);
  });

  it("takes direct uploads from the browser into the private store", async () => {
    const put = (pathname: string, bytes: Buffer, contentType: string) =>
      upload(pathname, bytes, { access: "private", handleUploadUrl: `${app.url}/api/uploads`, contentType });
    const personBlob = await put("uploads/person.jpg", await personPhoto(), "image/jpeg");
    const garmentBlob = await put("uploads/garment.png", await garmentPhoto("#117a65"), "image/png");
    // The upload's own URL is only an address: nobody reads it without the token.
    expect(await statusOf(personBlob.url)).toBe(403);

    const start = await fetch(`${app.url}/api/generation/start`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        withConsentJson({
          human_image_url: personBlob.url,
          garment_image_url: garmentBlob.url,
          occasion: "Vernissage",
        }),
      ),
    });
    expect(start.status).toBe(202);
    const { jobId } = (await start.json()) as { jobId: string };
    const answers: string[] = [];
    const final = await pollKeepingAnswers(jobId, ownerCookieOf(start), answers);
    expect(final.status).toBe("completed");
    for (const url of answers.flatMap(blobUrlsIn)) expectSignedUntil(url, Date.now() + 16 * MINUTE + 1_000);
    expect(await statusOf(final.imageUrl ?? "")).toBe(200);
    // The job keeps its own normalised inputs; the uploads were deleted after the answer.
    expect(blob.blobs().has(personBlob.pathname)).toBe(false);
    expect([...blob.blobs().keys()].some((p) => p.startsWith(`${jobId}/person-`))).toBe(true);
  });

  it("erases a look from the private store: every signed URL it showed stops serving at once", async () => {
    const owner = new OwnerClient(app.url);
    const jobId = await owner.start(
      startForm({ person: await personPhoto(), garment: await garmentPhoto("#a04000"), occasion: "Picnic" }),
    );
    const { final, urls } = await owner.pollUntilDone(jobId);
    expect(final.status).toBe("completed");
    // The result and the person's photo, each signed, each readable.
    expect(urls.size).toBeGreaterThanOrEqual(2);
    for (const url of urls) {
      expectSignedUntil(new URL(url), Date.now() + 16 * MINUTE + 1_000);
      expect(await statusOf(url)).toBe(200);
    }
    // The owner's list shows the look as the status view does: signed addresses only.
    const listed = blobUrlsIn(JSON.stringify((await owner.listLooks()).filter((job) => job.jobId === jobId)));
    expect(listed.map((url) => imageOf(url, jobId)).sort()).toEqual(["final", "person"]);
    for (const url of listed) expectSignedUntil(url, Date.now() + 16 * MINUTE + 1_000);

    expect((await OwnerClient.stranger(app.url).deleteLook(jobId)).status).toBe(403);
    expect((await owner.deleteLook(jobId)).status).toBe(204);
    // Still within their 15 minutes, the URLs it showed read nothing: the blobs are gone.
    for (const url of [...urls, ...listed.map((u) => u.href)]) expect(await statusOf(url)).toBe(404);
    expect([...blob.blobs().keys()].filter((pathname) => pathname.startsWith(`${jobId}/`))).toEqual([]);
    expect((await owner.status(jobId)).status).toBe(404);
  });
});
