import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PublicJob } from "@/lib/public-job";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import {
  colour,
  expectApiError,
  expectNoLeaks,
  expectReadableSentence,
  isUuidV4,
  listFiles,
  pollRecording,
  rawRequest,
  report,
} from "@/tests/support/hostile";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { startJobOver } from "@/tests/support/poll";
import { klingTasks } from "@/tests/support/vendor-ledger";

let person: Buffer;
beforeAll(async () => {
  person = await personPhoto();
});

const formFor = async (i: number, occasion = `Security ${i}`) =>
  startForm({ person, garment: await garmentPhoto(colour(i)), occasion });

/** Vendor answers written to tempt a leak: secrets, internal URLs, task ids and stack frames. */
const POISON =
  "image_reference is invalid; see http://kling-internal.example:8443/debug?key=test-secret " +
  "at Object.<anonymous> (/srv/kling/app.js:10:5) request 9f1c2e7a-task";

describe("nothing internal reaches the browser", () => {
  let vendors: VendorEmulators;
  let app: AppServer;
  beforeAll(async () => {
    vendors = await startVendorEmulators(300);
    // CALLBACK_SECRET turns the Kling callback route on, for the forged callbacks below.
    app = await startApp({ ...vendors.env, CALLBACK_SECRET: "security-callback-secret-0123456789" });
  });
  afterAll(async () => {
    await app?.stop();
    await vendors?.close();
  });

  it("shows no key, task id, vendor URL or stack to anyone, and turns poisoned vendor errors into sentences", async () => {
    vendors.openai.faults.push({
      on: "create",
      kind: "task-fails",
      error: { code: "invalid_image", message: `Invalid image ${POISON}` },
    });
    vendors.kling.faults.push({ on: "create", kind: "http", status: 400, code: 1201, message: POISON });
    vendors.replicate.faults.push({
      on: "create",
      kind: "task-fails",
      error: `NSFW content detected.\nTraceback (most recent call last):\n  File "/src/predict.py", line 42\n${POISON}`,
    });
    // Four jobs at once: the first to reach each vendor takes its poison, so one fails at each of
    // steps 1, 2 and 4, and the last runs clean through every vendor.
    const runs = await Promise.all(
      [1, 2, 3, 4].map(async (i) => {
        const jobId = await startJobOver(app.url, await formFor(i));
        const extraSecrets = [vendors.openai.url, vendors.kling.url, vendors.replicate.url];
        return { jobId, ...(await pollRecording(app.url, jobId, { extraSecrets })) };
      }),
    );
    const outcome = (run: (typeof runs)[number]) => `${run.final.status}@${run.final.step}`;
    expect(runs.map(outcome).sort()).toEqual(["completed@4", "failed@1", "failed@2", "failed@4"]);
    const taskIds = (await klingTasks(vendors)).map((task) => task.taskId);
    expect(taskIds.length).toBeGreaterThanOrEqual(3);
    expectNoLeaks(runs.flatMap((run) => run.bodies).join("\n"), taskIds);
    for (const { final } of runs) {
      if (final.status === "completed") {
        expect(final.imageUrl).toMatch(
          new RegExp(`^/api/files/${final.jobId}/final-[0-9a-f]{12}\\.(jpg|png|webp)$`),
        );
      } else {
        expectReadableSentence(final.error, ["9f1c2e7a", "kling-internal", "predict.py", "Traceback"]);
      }
    }
    const failedAt = (step: number) =>
      runs.find((run) => run.final.status === "failed" && run.final.step === step)?.final as PublicJob;

    // Kling's callbacks are unsigned: one without a token for the job is refused before it reaches the job.
    const checksBefore = vendors.kling.checks;
    for (const token of ["", "0".repeat(32), "guess", `${"f".repeat(31)}`]) {
      const forged = await fetch(
        `${app.url}/api/generation/callback/kling?jobId=${failedAt(2).jobId}&token=${token}`,
        {
          method: "POST",
          body: JSON.stringify({ task_id: "x", task_status: "succeed" }),
        },
      );
      await expectApiError(forged, 401, "unauthorized", `token "${token}"`);
    }
    expect(vendors.kling.checks).toBe(checksBefore);
    report("security: poisoned vendor errors", {
      errors: [failedAt(1).error, failedAt(2).error, failedAt(4).error],
    });
  });
});

describe("ids, stored files, internal errors and headers", () => {
  let app: AppServer;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => app?.stop());

  it("gives every job a distinct v4 UUID", async () => {
    const ids = await Promise.all([1, 2, 3, 4, 5].map(async (i) => startJobOver(app.url, await formFor(i))));
    expect(ids.every(isUuidV4)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("lists no stored images, and an image is served only under its exact unguessable key", async () => {
    const jobId = await startJobOver(app.url, await formFor(6));
    const { final } = await pollRecording(app.url, jobId);
    const stored = listFiles(path.join(app.dataDir, "blobs", jobId));
    expect(stored.length).toBeGreaterThanOrEqual(3);
    for (const raw of [
      `/api/files/${jobId}`,
      `/api/files/${jobId}/`,
      `/api/files/${jobId}/person.jpg`,
      `/api/files/${jobId}/final.jpg`,
      `/api/files/${jobId}/*`,
      `/api/files/${jobId}/person-%2A.jpg`,
    ]) {
      const response = await rawRequest(app.url, raw);
      const body = await response.text();
      expect([308, 400, 404], raw).toContain(response.status);
      for (const file of stored) expect(body, raw).not.toContain(path.basename(file, path.extname(file)));
    }
    const image = await fetch(`${app.url}${final.imageUrl}`);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toMatch(/^image\/(jpeg|png|webp)$/);
    expect(image.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("answers a corrupt job record with a generic 500 whose details stay in the log", async () => {
    const jobId = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const db = new Database(path.join(app.dataDir, "jobs.db"));
    try {
      const poisoned = JSON.stringify({ id: jobId, version: 0, status: "hacked", inputs: "/etc/passwd" });
      db.prepare("INSERT INTO jobs (id, version, data, expires_at) VALUES (?, 0, ?, ?)").run(
        jobId,
        poisoned,
        Date.now() + 3_600_000,
      );
    } finally {
      db.close();
    }
    const response = await fetch(`${app.url}/api/generation/status?jobId=${jobId}`);
    const { error } = await expectApiError(response, 500, "internal_error");
    expectReadableSentence(error, ["hacked", "passwd", "status"]);
    expect(app.output.join("\n")).toMatch(/internal/i);
  });

  it("escapes hostile text from the query and the occasion in the page", async () => {
    const script = "<script>alert(1)</script>";
    const jobId = await startJobOver(app.url, await formFor(7, `<img src=x onerror=alert(1)> ${script}`));
    for (const query of [`?job=${jobId}`, `?job=${encodeURIComponent(`"></div>${script}`)}`]) {
      const page = await (await fetch(`${app.url}/${query}`)).text();
      expect(page).not.toContain(script);
      expect(page).not.toContain("<img src=x onerror");
    }
    const status = await fetch(`${app.url}/api/generation/status?jobId=${jobId}`);
    expect(status.headers.get("content-type")).toContain("application/json");
    expect((await status.json()).occasion).toBe(`<img src=x onerror=alert(1)> ${script}`);
  });

  it("sends nosniff everywhere, no-store on status, and a strict Content-Security-Policy on the page", async () => {
    const jobId = await startJobOver(app.url, await formFor(8));
    const answers: Array<[string, Response]> = [
      ["page", await fetch(`${app.url}/`)],
      ["status 200", await fetch(`${app.url}/api/generation/status?jobId=${jobId}`)],
      ["status 400", await fetch(`${app.url}/api/generation/status?jobId=nope`)],
      ["status 404", await fetch(`${app.url}/api/generation/status?jobId=${crypto.randomUUID()}`)],
      ["start 415", await fetch(`${app.url}/api/generation/start`, { method: "POST", body: "{}" })],
      ["start 405", await fetch(`${app.url}/api/generation/start`)],
      ["files 404", await fetch(`${app.url}/api/files/none/such.jpg`)],
    ];
    for (const [name, response] of answers) {
      await response.arrayBuffer();
      expect(response.headers.get("x-content-type-options"), name).toBe("nosniff");
      expect(response.headers.get("x-powered-by"), name).toBeNull();
      if (name.startsWith("status"))
        expect(response.headers.get("cache-control"), name).toContain("no-store");
    }
    const page = answers[0]?.[1] as Response;
    const csp = page.headers.get("content-security-policy") ?? "";
    const directives = new Map(
      csp
        .split(";")
        .map((part) => part.trim().split(/\s+/))
        .map(([name = "", ...values]) => [name, values]),
    );
    expect(directives.get("default-src")).toEqual(["'self'"]);
    expect(directives.get("object-src")).toEqual(["'none'"]);
    expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
    expect(directives.get("base-uri")).toEqual(["'self'"]);
    expect(csp).not.toContain("'unsafe-eval'");
    expect(directives.get("script-src") ?? []).not.toContain("*");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("referrer-policy")).toBeTruthy();
    report("security: headers", { csp });
  });
});
