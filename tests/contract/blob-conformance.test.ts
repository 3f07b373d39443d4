import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLocalBlobStore, LOCAL_BLOB_ROUTE } from "@/lib/blobs/local";
import type { BlobRef, BlobStore, StoredBlob } from "@/lib/blobs/types";
import { BlobTooLargeError, createVercelBlobStore } from "@/lib/blobs/vercel-blob";
import { startVercelBlobEmulator, type VercelBlobEmulator } from "@/tests/emulators/vercel-blob";
import { tempDir } from "@/tests/support/app-server";

/** One driver under test, with what the suite needs to observe it from outside. */
interface BlobBackend {
  store: BlobStore;
  /** What a browser gets from the ref's view URL, or null when it serves nothing. */
  served(ref: BlobRef): Promise<StoredBlob | null>;
  unknownRef: BlobRef;
  /** Refs that point outside the store. */
  outsideRefs: BlobRef[];
  /** Throws if anything outside the store was read or removed. */
  assertOutsideUntouched(): void;
  /**
   * "separate": a second put of the same key is a new blob (Vercel: random suffix). "replaces": the key
   * is the blob (local: keys already carry a job id and random parts, so the same key is only ever the
   * same job's own file written again).
   */
  sameKey: "separate" | "replaces";
  dispose(): Promise<void>;
}

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(2048)]);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(512)]);

function localBackend(): BlobBackend {
  const root = tempDir("blobs");
  const dir = path.join(root, "blobs");
  const outsideFile = path.join(root, "outside.jpg");
  writeFileSync(outsideFile, "not yours");
  const store = createLocalBlobStore({ dir });
  return {
    store,
    // GET /api/files/<key> reads exactly this: the url is the files route plus the key.
    served: async (ref) => {
      expect(await store.viewUrl(ref)).toBe(`${LOCAL_BLOB_ROUTE}${ref.key}`);
      expect(await store.fetchUrl(ref, Date.now() + 60_000)).toBeNull();
      return store.get({ key: ref.key, url: ref.url });
    },
    unknownRef: { key: "nobody/missing.jpg", url: `${LOCAL_BLOB_ROUTE}nobody/missing.jpg` },
    outsideRefs: [
      { key: "../outside.jpg", url: `${LOCAL_BLOB_ROUTE}../outside.jpg` },
      { key: outsideFile, url: outsideFile },
      { key: "blobs/../../outside.jpg", url: `${LOCAL_BLOB_ROUTE}blobs/../../outside.jpg` },
    ],
    assertOutsideUntouched: () => expect(readFileSync(outsideFile, "utf8")).toBe("not yours"),
    sameKey: "replaces",
    dispose: async () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A server that is not the store: any request to it is a fetch that must not have happened. */
async function startForeignServer() {
  const hits: string[] = [];
  const server = http.createServer((request, response) => {
    hits.push(`${request.method} ${request.url}`);
    response.writeHead(200, { "content-type": "image/jpeg" }).end(JPEG);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, hits, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function vercelBackend(access: "public" | "private"): Promise<BlobBackend> {
  const emulator = await startVercelBlobEmulator({ access });
  const foreign = await startForeignServer();
  // @vercel/blob reads its API base and retry count from the environment only.
  vi.stubEnv("VERCEL_BLOB_API_URL", emulator.url);
  vi.stubEnv("VERCEL_BLOB_RETRIES", "0");
  const store = createVercelBlobStore({ token: emulator.token, access, apiUrl: emulator.url });
  const deletesBefore = () => emulator.requests.filter((r) => r.startsWith("POST /delete")).length;
  const baselineDeletes = deletesBefore();
  const outsideRefs: BlobRef[] = [
    { key: "uploads/x.jpg", url: `${foreign.url}/uploads/x.jpg` },
    { key: "x.jpg", url: "https://otherstore.public.blob.vercel-storage.com/x.jpg" },
    { key: "x.jpg", url: "https://otherstore.private.blob.vercel-storage.com/x.jpg" },
    { key: "x.jpg", url: `https://${emulator.storeId}.public.blob.vercel-storage.com.evil.example/x.jpg` },
    { key: "x.jpg", url: `http://user:pass@${new URL(emulator.url).host}/x.jpg` },
    { key: "x.jpg", url: "/api/files/x.jpg" },
  ];
  return {
    store,
    served: async (ref) => {
      const response = await fetch(await store.viewUrl(ref));
      if (response.status === 404) return null;
      expect(response.status).toBe(200);
      return {
        bytes: Buffer.from(await response.arrayBuffer()),
        contentType: response.headers.get("content-type") ?? "",
      };
    },
    unknownRef: { key: "nobody/missing.jpg", url: `${emulator.url}/nobody/missing.jpg` },
    outsideRefs,
    assertOutsideUntouched: () => {
      expect(foreign.hits).toEqual([]);
      expect(deletesBefore()).toBe(baselineDeletes);
    },
    sameKey: "separate",
    dispose: async () => {
      vi.unstubAllEnvs();
      await Promise.all([emulator.close(), foreign.close()]);
    },
  };
}

function describeBlobStoreConformance(name: string, makeBackend: () => BlobBackend | Promise<BlobBackend>) {
  describe(`BlobStore conformance: ${name}`, () => {
    let backend: BlobBackend;
    beforeEach(async () => {
      backend = await makeBackend();
    });
    afterEach(async () => {
      await backend.dispose();
    });

    it("round-trips bytes and content type through put and get", async () => {
      const jpeg = await backend.store.put("job-1/person-a1b2c3.jpg", JPEG, "image/jpeg");
      const png = await backend.store.put("job-1/style-d4e5f6.png", PNG, "image/png");
      expect(await backend.store.get(jpeg)).toEqual({ bytes: JPEG, contentType: "image/jpeg" });
      expect(await backend.store.get(png)).toEqual({ bytes: PNG, contentType: "image/png" });
    });

    it("serves the stored bytes at the returned url", async () => {
      const ref = await backend.store.put("job-2/final-0a0b0c.jpg", JPEG, "image/jpeg");
      expect(await backend.served(ref)).toEqual({ bytes: JPEG, contentType: "image/jpeg" });
    });

    it("keeps a second put of the same key from clobbering another blob", async () => {
      const first = await backend.store.put("job-3/person-aaaaaa.jpg", JPEG, "image/jpeg");
      const second = await backend.store.put("job-3/person-aaaaaa.jpg", PNG, "image/png");
      if (backend.sameKey === "separate") {
        expect(second.url).not.toBe(first.url);
        expect(second.key).not.toBe(first.key);
        expect((await backend.store.get(first))?.bytes).toEqual(JPEG);
        expect((await backend.store.get(second))?.bytes).toEqual(PNG);
      } else {
        expect(second).toEqual(first);
        expect((await backend.store.get(second))?.bytes).toEqual(PNG);
      }
    });

    it("answers null for a ref it never stored", async () => {
      expect(await backend.store.get(backend.unknownRef)).toBeNull();
      await expect(backend.store.delete(backend.unknownRef)).resolves.toBeUndefined();
    });

    it("deletes a blob (idempotently) so neither get nor its url finds it", async () => {
      const ref = await backend.store.put("job-4/garment-123456.jpg", JPEG, "image/jpeg");
      const other = await backend.store.put("job-4/person-654321.jpg", JPEG, "image/jpeg");
      await backend.store.delete(ref);
      await backend.store.delete(ref);
      expect(await backend.store.get(ref)).toBeNull();
      expect(await backend.served(ref)).toBeNull();
      expect((await backend.store.get(other))?.bytes).toEqual(JPEG);
    });

    it("deletes every blob under a job's prefix, and nothing outside it (issue 14)", async () => {
      const mine = await Promise.all(
        ["person-111111", "garment-222222", "style-333333", "final-444444"].map((name) =>
          backend.store.put(`job-9/${name}.jpg`, JPEG, "image/jpeg"),
        ),
      );
      const neighbour = await backend.store.put("job-90/person-555555.jpg", JPEG, "image/jpeg");
      await backend.store.deletePrefix("job-9/");
      await backend.store.deletePrefix("job-9/");
      for (const ref of mine) {
        expect(await backend.store.get(ref)).toBeNull();
        expect(await backend.served(ref)).toBeNull();
      }
      expect((await backend.store.get(neighbour))?.bytes).toEqual(JPEG);
      for (const prefix of ["", "/", "job-9", "../", "a/b/"]) {
        await expect(backend.store.deletePrefix(prefix), prefix).rejects.toThrow(/invalid blob prefix/);
      }
      expect((await backend.store.get(neighbour))?.bytes).toEqual(JPEG);
    });

    it("deletes the blobs under a prefix stored before a moment, and no other (issue 14)", async () => {
      const pause = () => new Promise((resolve) => setTimeout(resolve, 40));
      const old = await Promise.all(
        ["person-aaaaaa", "garment-bbbbbb"].map((name) =>
          backend.store.put(`uploads/${name}.jpg`, JPEG, "image/jpeg"),
        ),
      );
      const oldJob = await backend.store.put("job-8/person-cccccc.jpg", JPEG, "image/jpeg");
      await pause();
      const cutoff = Date.now();
      await pause();
      const recent = await backend.store.put("uploads/person-dddddd.jpg", JPEG, "image/jpeg");
      expect(await backend.store.deleteStoredBefore("uploads/", cutoff)).toBe(2);
      for (const ref of old) expect(await backend.store.get(ref)).toBeNull();
      expect((await backend.store.get(recent))?.bytes).toEqual(JPEG);
      expect((await backend.store.get(oldJob))?.bytes).toEqual(JPEG);
      expect(await backend.store.deleteStoredBefore("uploads/", cutoff)).toBe(0);
      expect(await backend.store.deleteStoredBefore("never-used/", Date.now())).toBe(0);
      for (const prefix of ["", "/", "uploads", "../", "a/b/"]) {
        await expect(backend.store.deleteStoredBefore(prefix, Date.now()), prefix).rejects.toThrow(
          /invalid blob prefix/,
        );
      }
    });

    it("returns unguessable keys and urls", async () => {
      const key = "job-5/final-abcdef.jpg";
      const refs = [
        await backend.store.put(key, JPEG, "image/jpeg"),
        await backend.store.put("job-5/final-fedcba.jpg", JPEG, "image/jpeg"),
      ];
      for (const ref of refs) expect(ref.url).toContain(ref.key.split("/").map(encodeURIComponent).join("/"));
      if (backend.sameKey === "separate") {
        // The service appends a random suffix of its own before the extension.
        expect(refs[0]?.key).toMatch(/^job-5\/final-abcdef-[A-Za-z0-9]{20,}\.jpg$/);
      } else {
        // Local keys are the caller's: startJob and the pipeline put a job id and random hex in each.
        expect(refs[0]?.key).toBe(key);
      }
    });

    it("refuses refs that point outside the store, without reading or deleting anything there", async () => {
      for (const ref of backend.outsideRefs) {
        expect(await backend.store.get(ref)).toBeNull();
        await backend.store.delete(ref);
      }
      backend.assertOutsideUntouched();
    });
  });
}

describeBlobStoreConformance("local files", localBackend);
describeBlobStoreConformance("Vercel Blob, public store (emulator)", () => vercelBackend("public"));
describeBlobStoreConformance("Vercel Blob, private store (emulator)", () => vercelBackend("private"));

describe("Vercel Blob store specifics", () => {
  let emulator: VercelBlobEmulator;
  beforeEach(async () => {
    emulator = await startVercelBlobEmulator({ storeId: "specifics01" });
    vi.stubEnv("VERCEL_BLOB_API_URL", emulator.url);
    vi.stubEnv("VERCEL_BLOB_RETRIES", "0");
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await emulator.close();
  });

  it("puts public blobs with a random suffix through the documented API call", async () => {
    const store = createVercelBlobStore({ token: emulator.token, access: "public", apiUrl: emulator.url });
    const ref = await store.put("job-6/person-1.jpg", JPEG, "image/jpeg");
    expect(store.access).toBe("public");
    // A public store's blob is its own URL, for the browser and for vendors alike.
    expect(await store.viewUrl(ref)).toBe(ref.url);
    expect(await store.fetchUrl(ref, Date.now() + 60_000)).toBe(ref.url);
    expect(emulator.requests).toContain(`PUT /?pathname=${encodeURIComponent("job-6/person-1.jpg")}`);
    expect(emulator.blobs().get(ref.key)).toMatchObject({ bytes: JPEG, contentType: "image/jpeg" });
    expect(ref.url).toBe(`${emulator.url}/${ref.key}`);
  });

  it("is refused by the API with a wrong token, and names a malformed one", async () => {
    const wrong = createVercelBlobStore({
      token: `vercel_blob_rw_specifics01_${"0".repeat(32)}`,
      access: "public",
      apiUrl: emulator.url,
    });
    await expect(wrong.put("a/b.jpg", JPEG, "image/jpeg")).rejects.toThrow(/Access denied/);
    expect(emulator.blobs().size).toBe(0);
    expect(() => createVercelBlobStore({ token: "not-a-token", access: "public" })).toThrow(
      /BLOB_READ_WRITE_TOKEN/,
    );
  });

  it("gives up at its deadline while the API hangs", async () => {
    const store = createVercelBlobStore({
      token: emulator.token,
      access: "public",
      apiUrl: emulator.url,
      timeoutMs: 300,
    });
    emulator.fault({ on: "put", kind: "hang", ms: 5_000 });
    const started = Date.now();
    await expect(store.put("a/b.jpg", JPEG, "image/jpeg")).rejects.toThrow(/within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("surfaces an API failure instead of storing nothing silently", async () => {
    const store = createVercelBlobStore({ token: emulator.token, access: "public", apiUrl: emulator.url });
    emulator.fault({ on: "put", kind: "http", status: 503, code: "service_unavailable" });
    await expect(store.put("a/b.jpg", JPEG, "image/jpeg")).rejects.toThrow(/not available/);
  });

  it("stops reading a blob past its size cap", async () => {
    const store = createVercelBlobStore({
      token: emulator.token,
      access: "public",
      apiUrl: emulator.url,
      maxGetBytes: 1000,
    });
    const ref = await store.put("a/big.jpg", JPEG, "image/jpeg");
    await expect(store.get(ref)).rejects.toBeInstanceOf(BlobTooLargeError);
  });

  it("trusts the real store host only for its own store id", async () => {
    const store = createVercelBlobStore({
      token: `vercel_blob_rw_AbC123_${"x".repeat(24)}`,
      access: "public",
      timeoutMs: 2_000,
    });
    // Nothing is reachable from here: null means "refused unfetched", a throw means "tried to fetch".
    await expect(
      store.get({ key: "k.jpg", url: "http://abc123.public.blob.vercel-storage.com/k.jpg" }),
    ).resolves.toBeNull();
    await expect(
      store.get({ key: "k.jpg", url: "https://zzz999.public.blob.vercel-storage.com/k.jpg" }),
    ).resolves.toBeNull();
    await expect(
      store.get({ key: "k.jpg", url: "https://abc123.public.blob.vercel-storage.com/k.jpg" }),
    ).rejects.toThrow();
  });
});
