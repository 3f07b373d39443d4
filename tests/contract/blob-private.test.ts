import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createVercelBlobStore } from "@/lib/blobs/vercel-blob";
import { startVercelBlobEmulator, type VercelBlobEmulator } from "@/tests/emulators/vercel-blob";

/**
 * A private Vercel Blob store (BLOB_ACCESS=private) against the emulator: what the SDK sends, what the
 * emulator holds it to (the documented contract), and what our store hands out.
 */

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(1024)]);
const MINUTE = 60_000;

let emulator: VercelBlobEmulator;
beforeEach(async () => {
  emulator = await startVercelBlobEmulator({ access: "private" });
  vi.stubEnv("VERCEL_BLOB_API_URL", emulator.url);
  vi.stubEnv("VERCEL_BLOB_RETRIES", "0");
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await emulator.close();
});

/** The emulator's clock and the store's move together, so expiry is seen from both sides. */
function privateStore() {
  let offset = 0;
  const store = createVercelBlobStore({
    token: emulator.token,
    access: "private",
    apiUrl: emulator.url,
    now: () => Date.now() + offset,
  });
  const advance = (ms: number) => {
    offset += ms;
    emulator.advanceClock(ms);
  };
  return { store, advance };
}

const statusOf = async (url: string) => {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
};

describe("a private Vercel Blob store", () => {
  it("puts private blobs, reads them with its token, and never serves them unsigned", async () => {
    const { store } = privateStore();
    const ref = await store.put("job-p/person-1.jpg", JPEG, "image/jpeg");
    expect(store.access).toBe("private");
    expect(emulator.blobs().get(ref.key)?.bytes).toEqual(JPEG);
    expect(await store.get(ref)).toEqual({ bytes: JPEG, contentType: "image/jpeg" });
    expect(await statusOf(ref.url)).toBe(403);
    // A missing blob is no different from outside: nothing tells a stranger what exists.
    expect(await statusOf(`${emulator.url}/job-p/nothing.jpg`)).toBe(403);
    expect(emulator.reads().map((read) => read.auth)).toEqual(["token", "unsigned", "unsigned"]);
  });

  it("is refused by a public store, as a store's access is fixed when it is created", async () => {
    const publicEmulator = await startVercelBlobEmulator({ access: "public" });
    vi.stubEnv("VERCEL_BLOB_API_URL", publicEmulator.url);
    try {
      const store = createVercelBlobStore({
        token: publicEmulator.token,
        access: "private",
        apiUrl: publicEmulator.url,
      });
      await expect(store.put("a/b.jpg", JPEG, "image/jpeg")).rejects.toThrow(/public blobs/);
      expect(publicEmulator.blobs().size).toBe(0);
    } finally {
      await publicEmulator.close();
    }
  });

  it("gives the browser a signed URL of that one blob, dead after about 15 minutes", async () => {
    const { store, advance } = privateStore();
    const ref = await store.put("job-v/final-1.jpg", JPEG, "image/jpeg");
    const other = await store.put("job-v/person-1.jpg", JPEG, "image/jpeg");
    const view = new URL(await store.viewUrl(ref));
    expect(`${view.origin}${view.pathname}`).toBe(ref.url);
    expect(view.searchParams.get("vercel-blob-signature")).toBeTruthy();
    const validUntil = Number(view.searchParams.get("vercel-blob-valid-until"));
    expect(validUntil - Date.now()).toBeGreaterThan(14 * MINUTE);
    expect(validUntil - Date.now()).toBeLessThanOrEqual(16 * MINUTE);

    const response = await fetch(view);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(JPEG);
    // The same signature on another blob's path, or a later expiry written in, reads nothing.
    expect(await statusOf(`${other.url}${view.search}`)).toBe(403);
    const stretched = new URL(view);
    stretched.searchParams.set("vercel-blob-valid-until", String(validUntil + 60 * MINUTE));
    expect(await statusOf(stretched.href)).toBe(403);

    advance(16 * MINUTE + 1_000);
    expect(await statusOf(view.href)).toBe(403);
    // A fresh view (the next poll) works again.
    expect(await statusOf(await store.viewUrl(ref))).toBe(200);
    expect(emulator.reads().map((read) => read.auth)).toEqual([
      "signed",
      "bad_signature",
      "bad_signature",
      "expired",
      "signed",
    ]);
  });

  it("gives a vendor a URL valid until the step's deadline and not a moment longer", async () => {
    const { store, advance } = privateStore();
    const ref = await store.put("job-f/person-1.jpg", JPEG, "image/jpeg");
    const deadline = Date.now() + 6 * MINUTE;
    const url = await store.fetchUrl(ref, deadline);
    expect(Number(new URL(url ?? "").searchParams.get("vercel-blob-valid-until"))).toBe(deadline);
    expect(await statusOf(url ?? "")).toBe(200);
    advance(6 * MINUTE - 5_000);
    expect(await statusOf(url ?? "")).toBe(200);
    advance(10_000);
    expect(await statusOf(url ?? "")).toBe(403);
  });

  it("asks the API for one delegation token and signs every URL with it", async () => {
    const { store } = privateStore();
    const refs = await Promise.all(
      [1, 2, 3].map((i) => store.put(`job-t/final-${i}.jpg`, JPEG, "image/jpeg")),
    );
    for (const ref of refs) {
      expect(await statusOf(await store.viewUrl(ref))).toBe(200);
      expect(await statusOf((await store.fetchUrl(ref, Date.now() + 5 * MINUTE)) ?? "")).toBe(200);
    }
    expect(emulator.requests.filter((r) => r.startsWith("POST /signed-token"))).toHaveLength(1);
    // A URL meant to outlive that token gets a new one (a URL never outlives its token).
    const later = Date.now() + 3 * 60 * MINUTE;
    const long = new URL((await store.fetchUrl(refs[0] as (typeof refs)[0], later)) ?? "");
    expect(Number(long.searchParams.get("vercel-blob-valid-until"))).toBe(later);
    expect(await statusOf(long.href)).toBe(200);
    expect(emulator.requests.filter((r) => r.startsWith("POST /signed-token"))).toHaveLength(2);
  });

  it("stops serving a deleted blob at a URL signed before the delete", async () => {
    const { store } = privateStore();
    const ref = await store.put("job-d/final-1.jpg", JPEG, "image/jpeg");
    const view = await store.viewUrl(ref);
    expect(await statusOf(view)).toBe(200);
    await store.delete(ref);
    expect(await statusOf(view)).toBe(404);
    expect(await store.get(ref)).toBeNull();
  });

  it("never signs a URL that is not one of its own blobs", async () => {
    const { store } = privateStore();
    const foreign = { key: "x.jpg", url: "https://otherstore.private.blob.vercel-storage.com/x.jpg" };
    await expect(store.viewUrl(foreign)).rejects.toThrow(/not a blob of this store/);
    await expect(store.fetchUrl(foreign, Date.now() + MINUTE)).rejects.toThrow(/not a blob of this store/);
    expect(emulator.requests).toEqual([]);
  });
});
