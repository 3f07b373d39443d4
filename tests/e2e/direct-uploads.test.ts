import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type StoredEmulatorBlob,
  startVercelBlobEmulator,
  type VercelBlobEmulator,
} from "../emulators/vercel-blob";
import { type AppServer, startApp } from "../support/app-server";
import { garmentPhoto, personPhoto } from "../support/images";
import { type BlobApiProxy, startBlobApiProxy } from "./blob-api-proxy";
import { type Browser, chromiumAvailable, launchBrowser } from "./browser";
import { type PhotoFile, StudioPage } from "./studio-page";

const FLOW_TIMEOUT_MS = 60_000;
/** Chromium logs a refused PUT as a console error; the test that causes one allows exactly it. */
const STATUS_403 = /Failed to load resource: the server responded with a status of 403/;

let person: PhotoFile;
let garment: PhotoFile;
let emulator: VercelBlobEmulator;
let proxy: BlobApiProxy;
let browser: Browser;
let viewer: Browser;
let app: AppServer;
const pages: StudioPage[] = [];

async function openStudio(url = app.url, on = browser): Promise<StudioPage> {
  const studio = await StudioPage.open(on.context, url);
  pages.push(studio);
  return studio;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

type StoredUpload = StoredEmulatorBlob & { pathname: string };

/** What the store holds under uploads/ right now. */
function storedUploads(): StoredUpload[] {
  return [...emulator.blobs()]
    .filter(([pathname]) => pathname.startsWith("uploads/"))
    .map(([pathname, blob]) => ({ pathname, ...blob }));
}

describe.skipIf(!chromiumAvailable())("direct uploads to Vercel Blob, in Chromium", () => {
  beforeAll(async () => {
    person = { name: "me.jpg", mimeType: "image/jpeg", buffer: await personPhoto(3000, 4000) };
    garment = { name: "shirt.png", mimeType: "image/png", buffer: await garmentPhoto() };
    // A private store (the default BLOB_ACCESS, the deploy guide's advice): uploads are private puts.
    emulator = await startVercelBlobEmulator({ access: "private" });
    proxy = await startBlobApiProxy(emulator.url);
    [browser, viewer, app] = await Promise.all([
      // The page's SDK talks to https://vercel.com/api/blob, as in production; the proxy answers for it.
      launchBrowser({ args: [proxy.hostResolverRule], ignoreHTTPSErrors: true }),
      // A second browser, for a shared link: the look opened where it was not made.
      launchBrowser(),
      startApp({
        BLOB_READ_WRITE_TOKEN: emulator.token,
        VERCEL_BLOB_API_URL: emulator.url,
        VERCEL_BLOB_RETRIES: "0",
        LOCAL_STUDIO_STEP_MS: "300",
      }),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await viewer?.close();
    await app?.stop();
    await proxy?.close();
    await emulator?.close();
  });

  afterEach(async () => {
    const studios = pages.splice(0);
    await Promise.all(studios.map((studio) => studio.close()));
    for (const studio of studios) expect(studio.errors).toEqual([]);
  });

  it("uploads both photos straight to Blob, starts the look from their URLs, and shows the result", async () => {
    const studio = await openStudio();
    await studio.waitForView("form");
    const response = await studio.page.request.get(app.url);
    const csp = response.headers()["content-security-policy"] ?? "";
    // Exactly what Blob mode needs: the browser's upload API, and the store's images (here the
    // emulator's origin, as VERCEL_BLOB_API_URL is set; in production https://<store>.private.blob…).
    expect(csp).toContain("connect-src 'self' https://vercel.com/api/blob/;");
    expect(csp).toMatch(
      new RegExp(
        `img-src 'self' blob: data: https://[a-z0-9]+\\.private\\.blob\\.vercel-storage\\.com ${escapeRegExp(emulator.url)};`,
      ),
    );
    expect(csp).not.toMatch(/https:[;\s]/);

    // Hold the start request, to see the uploads in the store before the server deletes them.
    const held: { contentType: string; body: string; uploads: StoredUpload[] }[] = [];
    await studio.page.route("**/api/generation/start", async (route) => {
      const request = route.request();
      held.push({
        contentType: request.headers()["content-type"] ?? "",
        body: request.postData() ?? "",
        uploads: storedUploads(),
      });
      await route.continue();
    });

    await studio.fillForm(person, garment, "Wedding guest");
    await studio.submit.click();
    await studio.waitForView("progress");
    await studio.screenshot("13-direct-upload-progress");

    // Each photo went to the Blob API through the browser; the app's start got JSON, not the photos.
    const puts = proxy.requests.filter((line) => line.startsWith("PUT /?pathname=uploads"));
    expect(puts.map((line) => decodeURIComponent(line.split("pathname=")[1] ?? "")).sort()).toEqual([
      "uploads/garment.jpg",
      "uploads/photo.jpg",
    ]);
    expect(held).toHaveLength(1);
    const [start] = held;
    expect(start?.contentType).toMatch(/^application\/json/);
    const uploadUrl = (name: string) =>
      new RegExp(`^${escapeRegExp(emulator.url)}/uploads/${name}-[A-Za-z0-9]{20,}\\.jpg$`);
    expect(JSON.parse(start?.body ?? "{}")).toEqual({
      human_image_url: expect.stringMatching(uploadUrl("photo")),
      garment_image_url: expect.stringMatching(uploadUrl("garment")),
      occasion: "Wedding guest",
      consent: true,
    });
    // In the store by then: two downscaled JPEGs; the 3000 × 4000 portrait arrived as 1152 × 1536.
    const stored = await Promise.all(
      (start?.uploads ?? []).map(async ({ pathname, contentType, bytes }) => {
        const { format, width, height } = await sharp(bytes).metadata();
        return { name: pathname.split("-")[0], contentType, format, width, height };
      }),
    );
    expect(stored.sort((a, b) => String(a.name).localeCompare(String(b.name)))).toEqual([
      { name: "uploads/garment", contentType: "image/jpeg", format: "jpeg", width: 800, height: 800 },
      { name: "uploads/photo", contentType: "image/jpeg", format: "jpeg", width: 1152, height: 1536 },
    ]);

    // Under the CSP the result view shows the stored image (no violation is logged: errors stay empty).
    await studio.waitForView("result", FLOW_TIMEOUT_MS);
    const src = (await studio.page.getByTestId("result-image").getAttribute("src")) ?? "";
    // A signed URL of the private store: that one image, for about 15 minutes.
    expect(src).toMatch(
      new RegExp(`^${escapeRegExp(emulator.url)}/[0-9a-f-]{36}/final-[^?]+\\?.*vercel-blob-signature=`),
    );
    // Another origin ignores `download`: the link asks the store for an attachment instead.
    const download = studio.view("result").getByRole("link", { name: "Download image" });
    const downloadUrl = new URL(src);
    downloadUrl.searchParams.set("download", "1");
    expect(await download.getAttribute("href")).toBe(downloadUrl.href);
    // The page never held the image's address unsigned: the store refuses it without the signature.
    const unsigned = new URL(src);
    unsigned.search = "";
    expect((await fetch(unsigned)).status).toBe(403);
    await expect.poll(() => studio.resultImageWidth(), { timeout: 10_000 }).toBeGreaterThan(0);

    const shared = await openStudio(studio.page.url(), viewer);
    await shared.waitForView("result");
    await expect.poll(() => shared.resultImageWidth(), { timeout: 10_000 }).toBeGreaterThan(0);
    await shared.screenshot("14-direct-upload-result");

    // The job keeps its own normalised copies; the uploaded originals are deleted.
    await expect.poll(() => storedUploads().length, { timeout: 10_000 }).toBe(0);
  });

  it("feeds the upload progress bar from the Blob upload", async () => {
    const studio = await openStudio();
    // Noise keeps the downscaled JPEG large (about 1.5 MB), so its upload takes seconds at this rate.
    const noisy = await sharp({
      create: {
        width: 1200,
        height: 1600,
        channels: 3,
        background: "#808080",
        noise: { type: "gaussian", mean: 128, sigma: 50 },
      },
    })
      .jpeg({ quality: 95 })
      .toBuffer();
    await studio.fillForm(
      { name: "noisy.jpg", mimeType: "image/jpeg", buffer: noisy },
      garment,
      "Date night",
    );
    proxy.throttle(256 * 1024);
    try {
      await studio.submit.click();
      const progress = studio.page.getByTestId("upload-progress");
      // Chromium buffers most of a photo at once, so the SDK's count races ahead of the network; it stays
      // below 100 % until the store has answered.
      await expect
        .poll(async () => Number(await progress.getAttribute("aria-valuenow")), { timeout: 20_000 })
        .toBeGreaterThan(0);
      expect(Number(await progress.getAttribute("aria-valuenow"))).toBeLessThan(100);
      expect(await studio.page.getByTestId("submit-reason").textContent()).toMatch(
        /^Uploading your photos… \d+%$/,
      );
      expect(await studio.personInput.isDisabled()).toBe(true);
      await studio.screenshot("15-direct-upload-uploading");
    } finally {
      proxy.throttle(null);
    }
    await studio.waitForView("progress", FLOW_TIMEOUT_MS);
  });

  it("says so when the store refuses a photo, keeps the form, and succeeds on a second try", async () => {
    const studio = await openStudio();
    studio.allowedErrors = [STATUS_403];
    const starts: string[] = [];
    studio.page.on("request", (request) => {
      if (request.url().endsWith("/api/generation/start")) starts.push(request.method());
    });
    await studio.fillForm(person, garment, "Job interview");
    emulator.fault({ on: "put", kind: "http", status: 403, code: "forbidden" });
    await studio.submit.click();

    const error = studio.page.getByTestId("start-error");
    await error.waitFor({ timeout: 20_000 });
    expect(await error.textContent()).toBe("Your photos could not be uploaded. Please try again.");
    expect(starts).toEqual([]);
    expect(await studio.picker("human_image").getByTestId("picker-preview").count()).toBe(1);
    expect(await studio.occasion.inputValue()).toBe("Job interview");
    await studio.screenshot("16-direct-upload-refused");

    await studio.submit.click();
    await studio.waitForView("progress", FLOW_TIMEOUT_MS);
    expect(starts).toEqual(["POST"]);
  });
});
