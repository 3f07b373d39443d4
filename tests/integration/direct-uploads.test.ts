import http from "node:http";
import type { AddressInfo } from "node:net";
import { getPayloadFromClientToken, upload } from "@vercel/blob/client";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startVercelBlobEmulator, type VercelBlobEmulator } from "@/tests/emulators/vercel-blob";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { withConsentJson } from "@/tests/support/consent";
import { garmentPhoto, personPhoto } from "@/tests/support/images";
import { OwnerClient } from "@/tests/support/owner-client";
import { pollUntilDone } from "@/tests/support/poll";

const TEN_MB = 10 * 1024 * 1024;
const CRON_SECRET = "direct-uploads-cron-secret";
const HOUR_MS = 60 * 60_000;

let emulator: VercelBlobEmulator;
let app: AppServer;
let person: Buffer;
let garment: Buffer;

beforeAll(async () => {
  emulator = await startVercelBlobEmulator();
  app = await startApp({
    BLOB_READ_WRITE_TOKEN: emulator.token,
    VERCEL_BLOB_API_URL: emulator.url,
    // This suite is about a public store's uploads; tests/integration/private-blob.test.ts, a private one's.
    BLOB_ACCESS: "public",
    VERCEL_BLOB_RETRIES: "0",
    CRON_SECRET,
  });
  // upload() runs here, in the test process, as the browser would: it reads the same two variables.
  vi.stubEnv("VERCEL_BLOB_API_URL", emulator.url);
  vi.stubEnv("VERCEL_BLOB_RETRIES", "0");
  person = await personPhoto();
  garment = await garmentPhoto("#2e86c1");
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await app?.stop();
  await emulator?.close();
});

/** What the studio page does: `upload()` from @vercel/blob/client against our token route. */
function uploadPhoto(pathname: string, bytes: Buffer | string, contentType?: string) {
  return upload(pathname, bytes, {
    access: "public",
    handleUploadUrl: `${app.url}/api/uploads`,
    ...(contentType ? { contentType } : {}),
  });
}

function startWithUrls(body: Record<string, unknown> | string) {
  return fetch(`${app.url}/api/generation/start`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(withConsentJson(body)),
  });
}

async function expectError(response: Response, status: number, code: string) {
  const body = await response.json();
  expect({ status: response.status, code: body.code }).toEqual({ status, code });
  expect(typeof body.error).toBe("string");
}

function requestToken(pathname: string) {
  return fetch(`${app.url}/api/uploads`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      type: "blob.generate-client-token",
      payload: { pathname, clientPayload: null, multipart: false },
    }),
  });
}

describe("a look from direct uploads to Blob", () => {
  it("starts from two uploaded URLs, completes, and serves the result from Blob", async () => {
    const personBlob = await uploadPhoto("uploads/person.jpg", person, "image/jpeg");
    const garmentBlob = await uploadPhoto("uploads/garment.png", garment, "image/png");
    expect(personBlob.url).toMatch(new RegExp(`^${emulator.url}/uploads/person-[A-Za-z0-9]{20,}\\.jpg$`));

    const response = await startWithUrls({
      human_image_url: personBlob.url,
      garment_image_url: garmentBlob.url,
      occasion: "  Gallery opening  ",
    });
    expect(response.status).toBe(202);
    const { jobId } = await response.json();

    const { final } = await pollUntilDone([app.url], jobId);
    expect(final.status).toBe("completed");
    expect(final.occasion).toBe("Gallery opening");
    expect(final.imageUrl).toMatch(new RegExp(`^${emulator.url}/${jobId}/final-`));
    const image = await fetch(final.imageUrl ?? "");
    expect(image.headers.get("content-type")).toBe("image/jpeg");
    expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).format).toBe("jpeg");

    // The job keeps its own normalised inputs; the originals were deleted after the answer.
    const pathnames = [...emulator.blobs().keys()];
    expect(pathnames.filter((p) => p.startsWith(`${jobId}/person-`))).toHaveLength(1);
    expect(pathnames).not.toContain(personBlob.pathname);
    expect(pathnames).not.toContain(garmentBlob.pathname);
  });

  it("deletes every blob of a look from Vercel Blob when its owner deletes it (issue 14)", async () => {
    const personBlob = await uploadPhoto("uploads/person.jpg", person, "image/jpeg");
    const garmentBlob = await uploadPhoto("uploads/garment.png", garment, "image/png");
    const owner = new OwnerClient(app.url);
    const started = await owner.fetch("/api/generation/start", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        withConsentJson({
          human_image_url: personBlob.url,
          garment_image_url: garmentBlob.url,
          occasion: "Opera",
        }),
      ),
    });
    expect(started.status).toBe(202);
    const { jobId } = (await started.json()) as { jobId: string };
    const { final, urls } = await owner.pollUntilDone(jobId);
    expect(final.status).toBe("completed");
    const ofJob = () => [...emulator.blobs().keys()].filter((pathname) => pathname.startsWith(`${jobId}/`));
    expect(ofJob().length).toBeGreaterThanOrEqual(4);

    expect((await owner.deleteLook(jobId)).status).toBe(204);
    expect(ofJob()).toEqual([]);
    for (const url of urls) expect((await fetch(url)).status, url).toBe(404);
    expect((await owner.status(jobId)).status).toBe(404);
  });

  it("deletes an upload no start claimed once it is an hour old, in the sweep (issue 14)", async () => {
    // Uploaded two hours ago by the Blob service's clock: a refused start, or a tab closed after the upload.
    emulator.advanceClock(-2 * HOUR_MS);
    const abandoned = await uploadPhoto("uploads/abandoned.jpg", person, "image/jpeg");
    emulator.advanceClock(2 * HOUR_MS);
    const recent = await uploadPhoto("uploads/recent.jpg", person, "image/jpeg");

    const sweep = await fetch(`${app.url}/api/cron/advance`, {
      headers: { authorization: `Bearer ${CRON_SECRET}` },
    });
    expect(sweep.status).toBe(200);
    const { retention } = (await sweep.json()) as { retention: Record<string, number> };
    expect(retention).toMatchObject({ unclaimedUploads: 1, errors: 0 });
    const pathnames = [...emulator.blobs().keys()];
    expect(pathnames).not.toContain(abandoned.pathname);
    expect(pathnames).toContain(recent.pathname);
    expect((await fetch(abandoned.url)).status).toBe(404);
  });

  it("takes a photo larger than Vercel's 4.5 MB request body limit", async () => {
    const big = await sharp({
      create: {
        width: 2600,
        height: 2600,
        channels: 3,
        background: "#808080",
        noise: { type: "gaussian", mean: 128, sigma: 60 },
      },
    })
      .jpeg({ quality: 98 })
      .toBuffer();
    expect(big.length).toBeGreaterThan(4.5 * 1024 * 1024);
    const bigBlob = await uploadPhoto("uploads/big.jpg", big, "image/jpeg");
    const garmentBlob = await uploadPhoto("uploads/garment.png", garment, "image/png");
    const response = await startWithUrls({
      human_image_url: bigBlob.url,
      garment_image_url: garmentBlob.url,
      occasion: "Beach day",
    });
    expect(response.status).toBe(202);
  });
});

describe("start with URLs refuses what is not one of our uploads", () => {
  it("names the missing field with the multipart codes", async () => {
    const blob = await uploadPhoto("uploads/p.jpg", person, "image/jpeg");
    await expectError(
      await startWithUrls({ garment_image_url: blob.url, occasion: "x" }),
      400,
      "missing_human_image",
    );
    await expectError(
      await startWithUrls({ human_image_url: blob.url, occasion: "x" }),
      400,
      "missing_garment_image",
    );
    await expectError(
      await startWithUrls({ human_image_url: blob.url, garment_image_url: blob.url }),
      400,
      "missing_occasion",
    );
    await expectError(
      await startWithUrls({
        human_image_url: blob.url,
        garment_image_url: blob.url,
        occasion: "x".repeat(201),
      }),
      400,
      "invalid_occasion",
    );
    await expectError(await startWithUrls("{not json"), 400, "invalid_request");
  });

  it("refuses a URL on another host without fetching it", async () => {
    const hits: string[] = [];
    const foreign = http.createServer((request, response) => {
      hits.push(String(request.url));
      response.writeHead(200, { "content-type": "image/jpeg" }).end(person);
    });
    await new Promise<void>((resolve) => foreign.listen(0, "127.0.0.1", resolve));
    try {
      const port = (foreign.address() as AddressInfo).port;
      const garmentBlob = await uploadPhoto("uploads/g.png", garment, "image/png");
      for (const url of [`http://127.0.0.1:${port}/x.jpg`, `http://127.0.0.1:${port}/uploads/x.jpg`]) {
        await expectError(
          await startWithUrls({
            human_image_url: url,
            garment_image_url: garmentBlob.url,
            occasion: "Party",
          }),
          400,
          "invalid_field",
        );
      }
      expect(hits).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => foreign.close(() => resolve()));
    }
  });

  it("refuses a blob of our store outside uploads/, and an upload that does not exist", async () => {
    const garmentBlob = await uploadPhoto("uploads/g.png", garment, "image/png");
    // A job's own stored input, e.g. a URL seen in another job: in the store but not an upload.
    const elsewhere = await fetch(`${emulator.url}/?pathname=${encodeURIComponent("job-x/person.jpg")}`, {
      method: "PUT",
      headers: {
        authorization: `Bearer ${emulator.token}`,
        "x-vercel-blob-access": "public",
        "x-content-type": "image/jpeg",
      },
      body: new Uint8Array(person),
    }).then((r) => r.json());
    for (const url of [elsewhere.url, `${emulator.url}/uploads/never-uploaded.jpg`]) {
      await expectError(
        await startWithUrls({ human_image_url: url, garment_image_url: garmentBlob.url, occasion: "Party" }),
        400,
        "invalid_field",
      );
    }
  });

  it("answers 415 for an uploaded blob that is not an image", async () => {
    // The token only checks the declared type; the bytes are checked at start, like a multipart file.
    const fake = await uploadPhoto("uploads/fake.jpg", "this is not a photo", "image/jpeg");
    const garmentBlob = await uploadPhoto("uploads/g.png", garment, "image/png");
    await expectError(
      await startWithUrls({
        human_image_url: fake.url,
        garment_image_url: garmentBlob.url,
        occasion: "Party",
      }),
      415,
      "unsupported_image_type",
    );
  });
});

describe("the upload token route", () => {
  it("issues a short-lived token for one image type under uploads/, at most 10 MB, random suffix", async () => {
    const response = await requestToken("uploads/person.jpg");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toContain("no-store");
    const { type, clientToken } = await response.json();
    expect(type).toBe("blob.generate-client-token");
    const payload = getPayloadFromClientToken(clientToken);
    expect(payload).toMatchObject({
      pathname: "uploads/person.jpg",
      allowedContentTypes: ["image/jpeg", "image/png", "image/webp"],
      maximumSizeInBytes: TEN_MB,
      addRandomSuffix: true,
    });
    expect(payload.validUntil).toBeGreaterThan(Date.now());
    expect(payload.validUntil).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
  });

  it("refuses a non-image pathname and one outside uploads/", async () => {
    await expectError(await requestToken("uploads/notes.txt"), 415, "unsupported_image_type");
    await expectError(await requestToken("elsewhere/person.jpg"), 400, "invalid_field");
    await expectError(await requestToken("uploads/../person.jpg"), 400, "invalid_field");
    await expect(uploadPhoto("uploads/notes.txt", "hello", "text/plain")).rejects.toThrow(/client token/);
    const other = await fetch(`${app.url}/api/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "blob.upload-completed", payload: {} }),
    });
    await expectError(other, 400, "invalid_request");
  });

  it("issues tokens the Blob API holds to a non-image content type and the 10 MB maximum", async () => {
    await expect(uploadPhoto("uploads/sneaky.jpg", "<html></html>", "text/html")).rejects.toThrow(
      /Content type mismatch/,
    );
    const tooBig = Buffer.alloc(TEN_MB + 1, 0xff);
    await expect(uploadPhoto("uploads/huge.jpg", tooBig, "image/jpeg")).rejects.toThrow(/File is too large/);
    const stored = [...emulator.blobs().keys()];
    expect(stored.some((p) => p.startsWith("uploads/sneaky") || p.startsWith("uploads/huge"))).toBe(false);
  });
});

describe("without Blob storage", () => {
  let local: AppServer;
  beforeAll(async () => {
    local = await startApp();
  });
  afterAll(async () => {
    await local?.stop();
  });

  it("has no token route and takes only the multipart form", async () => {
    const token = await fetch(`${local.url}/api/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "blob.generate-client-token", payload: { pathname: "uploads/a.jpg" } }),
    });
    await expectError(token, 404, "direct_uploads_disabled");
    const start = await fetch(`${local.url}/api/generation/start`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ human_image_url: "x", garment_image_url: "y", occasion: "z" }),
    });
    await expectError(start, 415, "unsupported_media_type");
  });
});
