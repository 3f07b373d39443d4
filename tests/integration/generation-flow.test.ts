import { readdirSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOB_STATUSES } from "@/lib/step-catalogue";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { pollUntilDone, startJobOver } from "@/tests/support/poll";

const PUBLIC_FIELDS = [
  "jobId",
  "status",
  "statusMessage",
  "imageUrl",
  "personImageUrl",
  "error",
  "errorCode",
  "owned",
  "createdAt",
  "updatedAt",
  "occasion",
  "advice",
  "step",
  "totalSteps",
  "progress",
  "estimatedReadyAt",
  "pollAfterMs",
].sort();
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let app: AppServer;
let person: Buffer;
let garment: Buffer;

beforeAll(async () => {
  app = await startApp();
  person = await personPhoto();
  garment = await garmentPhoto("#c0392b");
});

afterAll(async () => {
  await app?.stop();
});

describe("a job over HTTP with the offline providers", () => {
  it("answers 202 with a v4 job id and a Location, then runs every step to completed", async () => {
    const response = await fetch(`${app.url}/api/generation/start`, {
      method: "POST",
      body: startForm({ person, garment, occasion: "  Summer wedding guest  " }),
    });
    expect(response.status).toBe(202);
    const { jobId } = await response.json();
    expect(jobId).toMatch(UUID_V4);
    expect(response.headers.get("location")).toBe(`/api/generation/status?jobId=${jobId}`);

    const first = await fetch(`${app.url}/api/generation/status?jobId=${jobId}`);
    expect(first.headers.get("cache-control")).toContain("no-store");
    const firstBody = await first.json();
    expect(Object.keys(firstBody).sort()).toEqual(PUBLIC_FIELDS);
    expect(firstBody).toMatchObject({ jobId, occasion: "Summer wedding guest", totalSteps: 4, error: null });

    const { final, seen } = await pollUntilDone([app.url], jobId);
    expect(final.status).toBe("completed");
    expect(seen.map((s) => JOB_STATUSES.indexOf(s))).toEqual(
      [...seen.map((s) => JOB_STATUSES.indexOf(s))].sort(),
    );
    expect(Object.keys(final).sort()).toEqual(PUBLIC_FIELDS);
    expect(final.advice?.summary).toMatch(/offline preview/i);
    expect(final.advice?.summary).toMatch(/wedding/i);
    expect(final.advice?.pieces.length).toBeGreaterThan(0);
    expect(new Date(final.updatedAt).toISOString()).toBe(final.updatedAt);

    const image = await fetch(`${app.url}${final.imageUrl}`);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toBe("image/jpeg");
    expect(image.headers.get("x-content-type-options")).toBe("nosniff");
    const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
    expect(meta.format).toBe("jpeg");
    expect(meta.width).toBeGreaterThanOrEqual(300);
  });

  it("never shows internal fields in the public view", async () => {
    const jobId = await startJobOver(app.url, startForm({ person, garment, occasion: "Date night" }));
    const { final } = await pollUntilDone([app.url], jobId);
    const text = JSON.stringify(final);
    for (const secret of [
      "taskId",
      "version",
      "lease",
      "attempt",
      "inputs",
      "person-",
      "garment-",
      "nextCheckAt",
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe("bad input to start", () => {
  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    fetch(`${app.url}/api/generation/start`, { method: "POST", body, headers });

  async function expectError(response: Response, status: number, code: string) {
    expect(response.status).toBe(status);
    const body = await response.json();
    expect(body.code).toBe(code);
    expect(typeof body.error).toBe("string");
    expect(body.error.length).toBeGreaterThan(10);
  }

  it("refuses each bad field with its status and code, and writes nothing", async () => {
    const blobsBefore = listFiles(path.join(app.dataDir, "blobs"));
    const small = await sharp({ create: { width: 200, height: 200, channels: 3, background: "#888" } })
      .jpeg()
      .toBuffer();
    const heicPhoto = Buffer.concat([
      Buffer.from("\0\0\0\x18ftypheic\0\0\0\0mif1heic", "latin1"),
      Buffer.alloc(4096),
    ]);
    const cases: Array<[FormData | string, number, string]> = [
      [startForm({ garment, occasion: "Party" }), 400, "missing_human_image"],
      [startForm({ person, occasion: "Party" }), 400, "missing_garment_image"],
      [startForm({ person, garment }), 400, "missing_occasion"],
      [startForm({ person, garment, occasion: "   " }), 400, "missing_occasion"],
      [startForm({ person, garment, occasion: "x".repeat(201) }), 400, "invalid_occasion"],
      [startForm({ person, garment, occasion: "x".repeat(100_000) }), 400, "invalid_occasion"],
      [
        startForm({
          person: Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>"),
          garment,
          occasion: "Party",
        }),
        415,
        "unsupported_image_type",
      ],
      [
        startForm({ person, garment: Buffer.from("<html><body>hi</body></html>"), occasion: "Party" }),
        415,
        "unsupported_image_type",
      ],
      [
        // An iPhone's HEIC photo that got past the page (which refuses it first): a clear 415 too.
        startForm({ person: heicPhoto, garment, occasion: "Party" }),
        415,
        "unsupported_image_type",
      ],
      [startForm({ person: small, garment, occasion: "Party" }), 422, "image_too_small"],
      [
        startForm({ person: person.subarray(0, person.length / 2), garment, occasion: "Party" }),
        422,
        "image_undecodable",
      ],
      [
        startForm({ person: Buffer.alloc(11 * 1024 * 1024, 0xff), garment, occasion: "Party" }),
        413,
        "file_too_large",
      ],
    ];
    for (const [body, status, code] of cases) {
      await expectError(await post(body), status, code);
    }
    await expectError(
      await post(JSON.stringify({ occasion: "Party" }), { "content-type": "application/json" }),
      415,
      "unsupported_media_type",
    );
    expect(listFiles(path.join(app.dataDir, "blobs"))).toEqual(blobsBefore);
  });

  it("refuses a body declared larger than two images before reading it", async () => {
    const response = await post(new Uint8Array(10), {
      "content-type": "multipart/form-data; boundary=x",
      "content-length": String(25 * 1024 * 1024),
    }).catch((error: unknown) => error);
    // The server may close the socket after answering; either way it must not take the body.
    if (response instanceof Response) await expectError(response, 413, "request_too_large");
    else expect(String(response)).toMatch(/fetch failed|mismatch|length/i);
  });
});

describe("status and files", () => {
  it("answers 400 for a missing or malformed id and 404 for an unknown one", async () => {
    const cases: Array<[string, number, string]> = [
      ["", 400, "missing_job_id"],
      ["?jobId=", 400, "missing_job_id"],
      ["?jobId=not-a-uuid", 400, "invalid_job_id"],
      ["?jobId=../../etc/passwd", 400, "invalid_job_id"],
      ["?jobId=6ba7b810-9dad-11d1-80b4-00c04fd430c8", 400, "invalid_job_id"],
      ["?jobId=7c9e6679-7425-40de-944b-e07fc1f90ae7", 404, "job_not_found"],
    ];
    for (const [query, status, code] of cases) {
      const response = await fetch(`${app.url}/api/generation/status${query}`);
      expect(response.status).toBe(status);
      expect((await response.json()).code).toBe(code);
    }
  });

  it("serves no listing and nothing outside its folder", async () => {
    for (const key of ["", "../jobs.db", "..%2Fjobs.db", "%2e%2e/%2e%2e/etc/passwd", "jobs.db", "a/b"]) {
      const response = await fetch(`${app.url}/api/files/${key}`);
      expect([400, 404]).toContain(response.status);
      expect(response.headers.get("content-type") ?? "").not.toContain("image/");
    }
  });
});

function listFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true }).map(String).sort();
  } catch {
    return [];
  }
}

describe("a job whose step fails for good", () => {
  it("ends failed with the step's readable message and no image", async () => {
    const failing = await startApp({ LOCAL_STUDIO_FAIL_STEP: "tryon" });
    try {
      const form = startForm({
        person: await personPhoto(),
        garment: await garmentPhoto(),
        occasion: "Party",
      });
      const jobId = await startJobOver(failing.url, form);
      const { final, seen } = await pollUntilDone([failing.url], jobId);
      expect(seen).toContain("processing-tryon");
      expect(final).toMatchObject({
        status: "failed",
        imageUrl: null,
        error: "The offline studio was set to fail at this step (LOCAL_STUDIO_FAIL_STEP).",
        step: 3,
      });
    } finally {
      await failing.stop();
    }
  });
});
