import { readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { withConsent } from "@/tests/support/consent";
import {
  expectApiError,
  listFiles,
  pollRecording,
  rawRequest,
  report,
  uploadDeclared,
} from "@/tests/support/hostile";
import {
  disguisedFiles,
  GPS_MARKERS,
  hasGpsIfd,
  jpegHtmlPolyglot,
  jpegWithGps,
  pngBomb,
  streamedUpload,
} from "@/tests/support/hostile-payloads";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { startJobOver } from "@/tests/support/poll";

let app: AppServer;
let person: Buffer;
let garment: Buffer;

beforeAll(async () => {
  app = await startApp();
  [person, garment] = await Promise.all([personPhoto(), garmentPhoto()]);
});
afterAll(async () => app?.stop());

const blobsDir = () => path.join(app.dataDir, "blobs");

function jobRows(): number {
  const file = path.join(app.dataDir, "jobs.db");
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare("SELECT COUNT(*) AS n FROM jobs").get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

const post = (body: BodyInit, headers: Record<string, string> = {}) =>
  fetch(`${app.url}/api/generation/start`, { method: "POST", body, headers });

/** A multipart form with the given parts and the person's consent; files are Blobs with a name, texts are strings. */
function form(parts: Array<[string, Buffer | string, string?]>): FormData {
  const data = withConsent(new FormData());
  for (const [name, value, filename] of parts) {
    if (typeof value === "string") data.append(name, value);
    else data.append(name, new Blob([new Uint8Array(value)], { type: "image/jpeg" }), filename ?? "x.jpg");
  }
  return data;
}

/** After every refused request: no new file under DATA_DIR/blobs, no new job row. */
function expectNothingWritten(before: { blobs: string[]; jobs: number }) {
  expect(listFiles(blobsDir())).toEqual(before.blobs);
  expect(jobRows()).toBe(before.jobs);
}

describe("bad and malicious input to start", () => {
  it("refuses missing, empty, mistyped and disguised uploads with the right 4xx, writing nothing", async () => {
    const before = { blobs: listFiles(blobsDir()), jobs: jobRows() };
    const ok: Array<[string, Buffer | string, string?]> = [
      ["human_image", person],
      ["garment_image", garment],
      ["occasion", "Party"],
    ];
    const without = (name: string) => ok.filter(([field]) => field !== name);
    const cases: Array<{ name: string; body: FormData; status: number; code: string | string[] }> = [
      { name: "no fields at all", body: form([]), status: 400, code: "missing_human_image" },
      {
        name: "an empty photo (0 bytes)",
        body: form([["human_image", Buffer.alloc(0)], ...without("human_image")]),
        status: 400,
        code: "missing_human_image",
      },
      {
        name: "an empty garment (0 bytes)",
        body: form([["garment_image", Buffer.alloc(0)], ...without("garment_image")]),
        status: 400,
        code: "missing_garment_image",
      },
      {
        name: "the photo as a text field",
        body: form([["human_image", "me.jpg"], ...without("human_image")]),
        status: 400,
        code: "missing_human_image",
      },
      {
        name: "the occasion as a file",
        body: form([["occasion", Buffer.from("Party")], ...without("occasion")]),
        status: 400,
        code: "missing_occasion",
      },
      {
        name: "only blanks as occasion",
        body: form([["occasion", " \t\n "], ...without("occasion")]),
        status: 400,
        code: "missing_occasion",
      },
      {
        name: "five unknown files before the photos",
        body: form([...Array.from({ length: 5 }, (_, i): [string, Buffer] => [`junk${i}`, person]), ...ok]),
        status: 400,
        code: "missing_human_image",
      },
      {
        name: "a 30000×30000 PNG bomb",
        body: form([["human_image", pngBomb(), "bomb.png"], ...without("human_image")]),
        status: 422,
        code: "image_too_large",
      },
      ...disguisedFiles(person).map(({ name, bytes, codes }) => ({
        name,
        body: form([["garment_image", bytes, "shirt.jpg"], ...without("garment_image")]),
        status: codes.includes("image_undecodable") ? 422 : 415,
        code: codes,
      })),
    ];
    const bombStarted = Date.now();
    for (const { name, body, status, code } of cases) {
      const response = await post(body);
      await expectApiError(response, status, code, name);
    }
    const casesMs = Date.now() - bombStarted;
    for (const [name, body, contentType, code] of [
      [
        "JSON instead of multipart",
        JSON.stringify({ occasion: "Party", human_image: "aGk=" }),
        "application/json",
        "unsupported_media_type",
      ],
      [
        "a url-encoded form",
        "occasion=Party&human_image=x",
        "application/x-www-form-urlencoded",
        "unsupported_media_type",
      ],
      ["plain text", "human_image", "text/plain", "unsupported_media_type"],
      ["multipart without a boundary", "--x\r\n\r\n", "multipart/form-data", "invalid_request"],
      [
        "multipart that is not multipart",
        '{"a":1}',
        "multipart/form-data; boundary=zzz",
        ["invalid_request", "missing_human_image"],
      ],
    ] as Array<[string, string, string, string | string[]]>) {
      const response = await post(body, { "content-type": contentType });
      const status = code === "unsupported_media_type" ? 415 : 400;
      await expectApiError(response, status, code, name);
    }
    expectNothingWritten(before);
    report("bad input: refused uploads", { cases: cases.length + 5, allCasesMs: casesMs });
  });

  it("refuses floods of text in the occasion: 100 kB, emoji, combining marks, control characters", async () => {
    const before = { blobs: listFiles(blobsDir()), jobs: jobRows() };
    const occasions: Array<[string, string]> = [
      ["100 kB of text", "x".repeat(100_000)],
      ["5000 family emoji", "👩‍👩‍👧‍👦".repeat(5_000)],
      ["300 combining accents on one letter", `a${"\u0301".repeat(300)}`],
      ["201 CJK characters", "婚".repeat(201)],
      ["a NUL byte", "Party\u0000night"],
      ["a bell and an escape", "Party\u0007\u001b[31m"],
    ];
    for (const [name, occasion] of occasions) {
      const response = await post(
        form([
          ["human_image", person],
          ["garment_image", garment],
          ["occasion", occasion],
        ]),
      );
      await expectApiError(response, 400, "invalid_occasion", name);
    }
    expectNothingWritten(before);
  });

  it("refuses a 50 MB upload, declared or streamed, without buffering it, and stays up", async () => {
    const before = { blobs: listFiles(blobsDir()), jobs: jobRows() };
    const started = Date.now();
    const declared = await uploadDeclared(
      app.url,
      "/api/generation/start",
      { "content-type": "multipart/form-data; boundary=x" },
      50 * 1024 * 1024,
    );
    // Refused from its declared length alone, before the body was read.
    await expectApiError(declared.response, 413, "request_too_large");
    const declaredMs = Date.now() - started;

    const { body, contentType } = streamedUpload(50 * 1024 * 1024);
    const streamedStarted = Date.now();
    const streamed = await fetch(`${app.url}/api/generation/start`, {
      method: "POST",
      body,
      headers: { "content-type": contentType },
      duplex: "half",
    } as RequestInit).catch((error: unknown) => error);
    if (streamed instanceof Response) {
      expect(streamed.status).toBe(413);
      // The server closes the connection once it has answered, so the rest of a body still being sent
      // can cut the answer's own body (undici: "terminated", EPIPE): its code is checked when it arrived.
      const payload = (await streamed.json().catch(() => null)) as { code?: string } | null;
      if (payload) expect(payload.code).toBe("file_too_large");
    }
    const streamedMs = Date.now() - streamedStarted;
    expect(declaredMs).toBeLessThan(5_000);
    expect(streamedMs).toBeLessThan(15_000);
    expectNothingWritten(before);
    report("bad input: 50 MB", {
      declared: declared.response.status,
      declaredSentMb: Math.round(declared.bytesSent / 1024 / 1024),
      declaredMs,
      streamed: streamed instanceof Response ? streamed.status : "connection closed",
      streamedMs,
    });
  });

  it("keeps no GPS, camera or appended payload in what it stores, and applies the EXIF rotation", async () => {
    const gps = await jpegWithGps();
    const input = await sharp(gps).metadata();
    expect(input.exif?.toString("latin1")).toContain(GPS_MARKERS.make);
    expect(hasGpsIfd(input.exif)).toBe(true);
    expect(input.orientation).toBe(6);
    const jobId = await startJobOver(
      app.url,
      form([
        ["human_image", gps],
        ["garment_image", jpegHtmlPolyglot(garment)],
        ["occasion", "Museum visit"],
      ]),
    );
    const stored = listFiles(path.join(blobsDir(), jobId));
    const photo = stored.find((file) => file.includes("person-"));
    const cloth = stored.find((file) => file.includes("garment-"));
    expect(photo && cloth, stored.join(", ")).toBeTruthy();
    const photoBytes = readFileSync(path.join(blobsDir(), jobId, photo ?? ""));
    const meta = await sharp(photoBytes).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation ?? 1).toBe(1);
    expect([meta.width, meta.height]).toEqual([input.height, input.width]);
    const clothText = readFileSync(path.join(blobsDir(), jobId, cloth ?? "")).toString("latin1");
    for (const text of [photoBytes.toString("latin1"), clothText]) {
      for (const marker of [GPS_MARKERS.make, GPS_MARKERS.model, "Exif\0", "<script", "<html"]) {
        expect(text).not.toContain(marker);
      }
    }
  });
});

describe("bad ids, keys and methods on every route", () => {
  it("answers malformed and path-traversal job ids with 400, unknown ones with 404", async () => {
    const id = (raw: string) => `?jobId=${encodeURIComponent(raw)}`;
    const cases: Array<[string, number, string]> = [
      ["", 400, "missing_job_id"],
      ["?jobId=", 400, "missing_job_id"],
      [id("not-a-uuid"), 400, "invalid_job_id"],
      ["?jobId=..%2F..%2Fjobs.db", 400, "invalid_job_id"],
      ["?jobId=../../../../etc/passwd", 400, "invalid_job_id"],
      ["?jobId=%00", 400, "invalid_job_id"],
      [id("' OR '1'='1"), 400, "invalid_job_id"],
      // A log4shell probe, spelled with \u0024 so it stays a plain string.
      [id("\u0024{jndi:ldap://x/a}"), 400, "invalid_job_id"],
      [id("a".repeat(10_000)), 400, "invalid_job_id"],
      [id("7C9E6679-7425-40DE-944B-E07FC1F90AE7"), 400, "invalid_job_id"],
      [id("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), 400, "invalid_job_id"],
      ["?jobId=7c9e6679-7425-40de-944b-e07fc1f90ae7%0d%0aX-Injected:%201", 400, "invalid_job_id"],
      ["?jobId=7c9e6679-7425-40de-944b-e07fc1f90ae7&jobId=../x", 404, "job_not_found"],
      ["?jobId=7c9e6679-7425-40de-944b-e07fc1f90ae7", 404, "job_not_found"],
    ];
    for (const [query, status, code] of cases) {
      const response = await rawRequest(app.url, `/api/generation/status${query}`);
      expect(response.headers.get("x-injected")).toBeNull();
      await expectApiError(response, status, code, query.slice(0, 60));
    }
  });

  it("never serves a file outside its folder, whatever the key", async () => {
    const keys = [
      "..%2Fjobs.db",
      "..%252Fjobs.db",
      "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "....%2F%2Fjobs.db",
      "..%5Cjobs.db",
      "%2Fetc%2Fpasswd",
      "jobs.db",
      "jobs.db-wal",
      "local-studio",
      "x.jpg%00.db",
      "x.JPG",
      `${"a".repeat(4_000)}.jpg`,
      "%E2%80%AEgpj.exe",
      "nothing/here.jpg",
    ];
    for (const key of keys) {
      const response = await rawRequest(app.url, `/api/files/${key}`);
      await expectApiError(response, [400, 404], ["invalid_file_key", "file_not_found"], key.slice(0, 60));
    }
    // Dot-segments are resolved by the server before routing: whatever answers, it is no file of ours.
    for (const raw of [
      "/api/files/../jobs.db",
      "/api/files/../../../etc/passwd",
      "/api/files/%2e%2e/jobs.db",
    ]) {
      const response = await rawRequest(app.url, raw);
      const body = await response.text();
      expect([400, 404], raw).toContain(response.status);
      expect(response.headers.get("content-type") ?? "", raw).not.toMatch(/^image\/|octet-stream/);
      expect(body, raw).not.toMatch(/SQLite format|root:x:0/);
    }
  });

  it("answers unknown API addresses, including the bare files folder, with JSON 404 (not an HTML page)", async () => {
    // ("/api/files/" first redirects to "/api/files": Next's trailing-slash rule.)
    for (const raw of ["/api/files", "/api/files/../jobs.db", "/api/nothing-here", "/api/generation"]) {
      await expectApiError(await rawRequest(app.url, raw), 404, ["not_found", "file_not_found"], raw);
    }
  });

  it("answers every wrong method with 405 JSON and an Allow header", async () => {
    const routes: Array<[string, string, string[]]> = [
      ["/api/generation/start", "POST", ["GET", "PUT", "PATCH", "DELETE"]],
      [
        "/api/generation/status?jobId=7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "GET",
        ["POST", "PUT", "PATCH", "DELETE"],
      ],
      ["/api/files/some/file.jpg", "GET", ["POST", "PUT", "PATCH", "DELETE"]],
      ["/api/cron/advance", "GET", ["POST", "PUT", "PATCH", "DELETE"]],
      ["/api/uploads", "POST", ["GET", "PUT", "PATCH", "DELETE"]],
      ["/api/generation/callback/kling", "POST", ["GET", "PUT", "PATCH", "DELETE"]],
      ["/api/generation/callback/openai", "POST", ["GET", "PUT", "PATCH", "DELETE"]],
      ["/api/generation/callback/replicate", "POST", ["GET", "PUT", "PATCH", "DELETE"]],
    ];
    for (const [route, allowed, wrong] of routes) {
      for (const method of wrong) {
        const response = await fetch(`${app.url}${route}`, {
          method,
          body: method === "GET" ? undefined : "{}",
        });
        expect(response.headers.get("allow"), `${method} ${route}`).toBe(allowed);
        await expectApiError(response, 405, "method_not_allowed", `${method} ${route}`);
      }
    }
  });

  it("refuses forged calls to the sweep, the upload-token route and the provider callbacks", async () => {
    const before = { blobs: listFiles(blobsDir()), jobs: jobRows() };
    const job = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    const cases: Array<[string, RequestInit, number, string]> = [
      ["/api/cron/advance", { headers: { authorization: "Bearer guess" } }, 401, "unauthorized"],
      ["/api/cron/advance", {}, 401, "unauthorized"],
      [
        "/api/uploads",
        {
          method: "POST",
          body: '{"type":"blob.generate-client-token"}',
          headers: { "content-type": "application/json" },
        },
        404,
        "direct_uploads_disabled",
      ],
      [
        `/api/generation/callback/kling?jobId=${job}&token=${"0".repeat(32)}`,
        { method: "POST", body: "{}" },
        404,
        "callbacks_disabled",
      ],
      [
        `/api/generation/callback/replicate?jobId=${job}`,
        { method: "POST", body: "{}" },
        404,
        "callbacks_disabled",
      ],
      ["/api/generation/callback/openai", { method: "POST", body: "{}" }, 404, "callbacks_disabled"],
    ];
    for (const [route, init, status, code] of cases) {
      await expectApiError(await fetch(`${app.url}${route}`, init), status, code, route);
    }
    expectNothingWritten(before);
  });

  it("stays healthy: an interrupted upload and an oversized header later, a normal job still completes", async () => {
    const controller = new AbortController();
    const { body, contentType } = streamedUpload(5 * 1024 * 1024);
    const cut = fetch(`${app.url}/api/generation/start`, {
      method: "POST",
      body,
      headers: { "content-type": contentType },
      signal: controller.signal,
      duplex: "half",
    } as RequestInit).catch(() => null);
    setTimeout(() => controller.abort(), 50);
    await cut;
    const huge = await fetch(`${app.url}/api/generation/status`, {
      headers: { cookie: "a".repeat(64 * 1024) },
    }).catch(() => null);
    if (huge) expect([400, 431]).toContain(huge.status);

    const jobId = await startJobOver(app.url, startForm({ person, garment, occasion: "After the storm" }));
    const { final } = await pollRecording(app.url, jobId);
    expect(final.status).toBe("completed");
    expect(app.output.join("\n")).not.toMatch(/uncaught|unhandled/i);
  });
});
