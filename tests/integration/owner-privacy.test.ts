import { readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSENT_VERSION } from "@/lib/consent";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { filesUnder, OwnerClient } from "@/tests/support/owner-client";
import { countJobRows } from "@/tests/support/sqlite-jobs";

let app: AppServer;
let person: Buffer;
let garment: Buffer;

beforeAll(async () => {
  app = await startApp();
  person = await personPhoto();
  garment = await garmentPhoto("#2e86c1");
});
afterAll(async () => {
  await app?.stop();
});

const form = (occasion = "Dinner") => startForm({ person, garment, occasion });

/** Files under DATA_DIR that name the job in their path or (for the offline studio's task records) content. */
async function filesOfJob(jobId: string): Promise<string[]> {
  const files = await filesUnder(app.dataDir);
  return files.filter((file) => {
    if (file.includes(jobId)) return true;
    // The store's own files are checked through SQL below: freed pages may keep old bytes.
    if (file.startsWith("jobs.db")) return false;
    return readFileSync(path.join(app.dataDir, file)).includes(jobId);
  });
}

/** Rows naming the job in any table of the embedded store (records, leases, indexes). */
function rowsOfJob(jobId: string): number {
  const db = new Database(path.join(app.dataDir, "jobs.db"), { readonly: true });
  try {
    const count = (sql: string) => (db.prepare(sql).get(jobId) as { n: number }).n;
    return (
      count("SELECT COUNT(*) AS n FROM jobs WHERE id = ?") +
      count("SELECT COUNT(*) AS n FROM leases WHERE job_id = ?") +
      count("SELECT COUNT(*) AS n FROM record_index WHERE id = ?")
    );
  } finally {
    db.close();
  }
}

function storedConsent(jobId: string): unknown {
  const db = new Database(path.join(app.dataDir, "jobs.db"), { readonly: true });
  try {
    const row = db.prepare("SELECT data FROM jobs WHERE id = ?").get(jobId) as { data: string } | undefined;
    return row ? JSON.parse(row.data).consent : undefined;
  } finally {
    db.close();
  }
}

describe("the owner's looks over HTTP (issue 14)", () => {
  it("lets anyone view a shared look but only its owner delete it; the delete leaves nothing", async () => {
    const owner = new OwnerClient(app.url);
    const started = Date.now();
    const jobId = await owner.start(form());
    expect(owner.cookie).toMatch(/^ss_owner=/);
    const { final, urls } = await owner.pollUntilDone(jobId);
    expect(final).toMatchObject({ status: "completed", owned: true });
    expect(urls.size).toBeGreaterThanOrEqual(2);
    for (const url of urls) expect((await fetch(`${app.url}${url}`)).status).toBe(200);
    // The consent's version and time are on the record, never in the public view.
    expect(storedConsent(jobId)).toEqual({ version: CONSENT_VERSION, at: expect.any(Number) });
    expect((storedConsent(jobId) as { at: number }).at).toBeGreaterThanOrEqual(started);
    expect(JSON.stringify(final)).not.toContain("consent");
    expect((await owner.listLooks()).map((job) => job.jobId)).toEqual([jobId]);
    expect(await filesOfJob(jobId)).not.toEqual([]);

    // A second browser with the link: it may look, never change.
    const stranger = new OwnerClient(app.url);
    const viewed = await stranger.status(jobId);
    expect(viewed.status).toBe(200);
    expect(await viewed.json()).toMatchObject({ jobId, owned: false });
    const refused = await stranger.deleteLook(jobId);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "not_owner" });
    expect(await stranger.listLooks()).toEqual([]);
    const otherOwner = new OwnerClient(app.url);
    await otherOwner.start(form("Another look"));
    expect((await otherOwner.deleteLook(jobId)).status).toBe(403);
    expect((await otherOwner.deleteAll()).status).toBe(204);
    expect((await owner.status(jobId)).status).toBe(200);

    // A cross-site request, even with the owner's cookie, is refused.
    const crossSite = await owner.deleteLook(jobId, { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    expect(await crossSite.json()).toMatchObject({ code: "cross_site_request" });
    expect((await owner.deleteAll({ origin: "https://evil.example" })).status).toBe(403);
    expect((await owner.status(jobId)).status).toBe(200);

    const deleted = await owner.deleteLook(jobId);
    expect(deleted.status).toBe(204);
    expect((await owner.status(jobId)).status).toBe(404);
    for (const url of urls) expect((await fetch(`${app.url}${url}`)).status, url).toBe(404);
    expect(await filesOfJob(jobId)).toEqual([]);
    expect(rowsOfJob(jobId)).toBe(0);
    expect(await owner.listLooks()).toEqual([]);
    // Repeating it is harmless: the look is simply not there any more.
    const again = await owner.deleteLook(jobId);
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ code: "job_not_found" });
  });

  it("deletes all of the caller's looks, in progress or finished, and nobody else's", async () => {
    const owner = new OwnerClient(app.url);
    const first = await owner.start(form("Brunch"));
    await owner.pollUntilDone(first);
    const second = await owner.start(form("Gallery"));
    const neighbour = new OwnerClient(app.url);
    const theirs = await neighbour.start(form("Theirs"));
    expect((await owner.listLooks()).map((job) => job.jobId)).toEqual([second, first]);

    expect((await owner.deleteAll()).status).toBe(204);
    expect(await owner.listLooks()).toEqual([]);
    for (const jobId of [first, second]) {
      expect((await owner.status(jobId)).status).toBe(404);
      expect(rowsOfJob(jobId)).toBe(0);
      // The look in progress may still have been writing: its files are gone once the delete answered.
      expect(await filesOfJob(jobId)).toEqual([]);
    }
    expect((await neighbour.status(theirs)).status).toBe(200);
    expect((await neighbour.listLooks()).map((job) => job.jobId)).toEqual([theirs]);
    // No cookie: nothing to delete, and nothing happens.
    expect((await new OwnerClient(app.url).deleteAll()).status).toBe(204);
    expect((await neighbour.status(theirs)).status).toBe(200);
  });

  it("refuses a start without consent, writing nothing", async () => {
    const filesBefore = await filesUnder(app.dataDir);
    const rowsBefore = countJobRows(app.dataDir);
    const browser = new OwnerClient(app.url);
    for (const consent of [null, "false", "yes"]) {
      const body = startForm({ person, garment, occasion: "Party", consent: false });
      if (consent !== null) body.set("consent", consent);
      const response = await browser.fetch("/api/generation/start", { method: "POST", body });
      expect(response.status, String(consent)).toBe(400);
      expect(await response.json()).toMatchObject({ code: "consent_required" });
    }
    expect(countJobRows(app.dataDir)).toBe(rowsBefore);
    const blobsNow = (await filesUnder(app.dataDir)).filter((file) => !file.startsWith("jobs.db"));
    expect(blobsNow).toEqual(filesBefore.filter((file) => !file.startsWith("jobs.db")));
  });

  it("refuses a cross-site start", async () => {
    const browser = new OwnerClient(app.url);
    const response = await browser.fetch("/api/generation/start", {
      method: "POST",
      body: form(),
      headers: { origin: "https://evil.example" },
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: "cross_site_request" });
  });

  it("answers the owner API's unknown ids and methods as JSON errors", async () => {
    const browser = new OwnerClient(app.url);
    const unknown = await browser.deleteLook("00000000-0000-4000-8000-000000000000");
    expect(unknown.status).toBe(404);
    const invalid = await browser.deleteLook("not-a-job");
    expect(invalid.status).toBe(400);
    const wrongMethod = await browser.fetch("/api/generation/jobs", { method: "POST" });
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toMatchObject({ code: "method_not_allowed" });
  });
});
