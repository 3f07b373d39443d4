import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PublicJob } from "@/lib/public-job";
import { JOB_STATUSES } from "@/lib/step-catalogue";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { getStatus, pollUntilDone, startJobOver } from "@/tests/support/poll";
import { jobEventsOf, readJobEvents } from "@/tests/support/sse";

const rank = (status: PublicJob["status"]) => JOB_STATUSES.indexOf(status);

/** Ids strictly increase and statuses never move backwards. */
function expectInOrder(events: Array<{ id: number; job: PublicJob }>) {
  for (let i = 1; i < events.length; i++) {
    const [before, after] = [events[i - 1], events[i]];
    if (!before || !after) continue;
    expect(after.id).toBeGreaterThan(before.id);
    expect(rank(after.job.status)).toBeGreaterThanOrEqual(rank(before.job.status));
  }
}

async function startLook(baseUrl: string, occasion: string, colour?: string): Promise<string> {
  const form = startForm({ person: await personPhoto(), garment: await garmentPhoto(colour), occasion });
  return startJobOver(baseUrl, form);
}

describe("GET /api/generation/events against next start", () => {
  let app: AppServer;
  beforeAll(async () => {
    app = await startApp({ LOCAL_STUDIO_STEP_MS: "400" });
  });
  afterAll(async () => app?.stop());

  it("refuses a missing, malformed or unknown job id with the usual JSON, before any stream", async () => {
    const cases = [
      { query: "", status: 400, code: "missing_job_id" },
      { query: "?jobId=not-a-job", status: 400, code: "invalid_job_id" },
      { query: `?jobId=${randomUUID()}`, status: 404, code: "job_not_found" },
    ];
    for (const { query, status, code } of cases) {
      const response = await fetch(`${app.url}/api/generation/events${query}`);
      expect(response.status, query).toBe(status);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await response.json()).toMatchObject({ code, error: expect.any(String) });
    }
    const post = await fetch(`${app.url}/api/generation/events?jobId=${randomUUID()}`, { method: "POST" });
    expect(post.status).toBe(405);
  });

  it("streams a look to completed with no poll: in order, ids increasing, then ends", async () => {
    const jobId = await startLook(app.url, "Stream to the end");
    const read = await readJobEvents(app.url, jobId);
    expect(read.status).toBe(200);
    expect(read.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(read.headers.get("cache-control")).toBe("no-store");
    expect(read.headers.get("x-accel-buffering")).toBe("no");
    expect(read.ended).toBe(true);
    expect(read.retries[0]).toBe(1_000);
    const events = jobEventsOf(read);
    expectInOrder(events);
    expect(events.map(({ job }) => job.status)).toEqual(
      expect.arrayContaining(["processing-style", "processing-tryon", "processing-faceswap", "completed"]),
    );
    // The stream ends after the terminal event: nothing follows it.
    expect(read.events.at(-1)?.event).toBe("job");
    expect(events.at(-1)?.job.status).toBe("completed");
    // Its data is what the status route answers.
    expect(events.at(-1)?.job).toEqual(await getStatus(app.url, jobId));
  });

  it("resumed with Last-Event-ID sends nothing already seen; a finished, caught-up reconnect is 204", async () => {
    const jobId = await startLook(app.url, "Resume me");
    const firstPart = await readJobEvents(app.url, jobId, {
      until: (events) => events.filter((event) => event.event === "job").length >= 2,
    });
    expect(firstPart.ended).toBe(false);
    // The server noticed the client leave and stopped that stream.
    await expect.poll(() => app.output.some((line) => line.includes('"stream.left"'))).toBe(true);
    const seen = jobEventsOf(firstPart);
    const lastSeen = seen.at(-1)?.id ?? -1;
    expect(lastSeen).toBeGreaterThanOrEqual(0);

    const rest = await readJobEvents(app.url, jobId, { lastEventId: String(lastSeen) });
    const resumed = jobEventsOf(rest);
    expect(rest.ended).toBe(true);
    expect(resumed.length).toBeGreaterThan(0);
    for (const { id } of resumed) expect(id).toBeGreaterThan(lastSeen);
    expectInOrder([...seen, ...resumed]);
    expect(resumed.at(-1)?.job.status).toBe("completed");

    const caughtUp = await readJobEvents(app.url, jobId, { lastEventId: String(resumed.at(-1)?.id) });
    expect(caughtUp.status).toBe(204);
    expect(caughtUp.events).toEqual([]);
    // Without a Last-Event-ID a finished job still shows: its last state, then the end.
    const fresh = await readJobEvents(app.url, jobId);
    expect(jobEventsOf(fresh).map(({ job }) => job.status)).toEqual(["completed"]);
    expect(fresh.ended).toBe(true);
  });
});

describe("3 event streams and 25 concurrent polls on one job, through the real adapters", () => {
  let vendors: VendorEmulators;
  let app: AppServer;
  beforeAll(async () => {
    vendors = await startVendorEmulators(400);
    app = await startApp(vendors.env);
  });
  afterAll(async () => {
    await app?.stop();
    await vendors?.close();
  });

  it("creates each vendor task exactly once", async () => {
    const replicateBefore = [...vendors.replicate.creates().values()].reduce((a, b) => a + b, 0);
    const jobId = await startLook(app.url, "Crowded look", "#5d3a8e");
    const streams = Array.from({ length: 3 }, () => readJobEvents(app.url, jobId, { timeoutMs: 90_000 }));
    const polls = Array.from({ length: 25 }, () =>
      pollUntilDone([app.url], jobId, { intervalMs: 50, timeoutMs: 90_000 }),
    );
    const [reads, finals] = await Promise.all([Promise.all(streams), Promise.all(polls)]);
    for (const read of reads) {
      const events = jobEventsOf(read);
      expectInOrder(events);
      expect(events.at(-1)?.job.status).toBe("completed");
      expect(read.ended).toBe(true);
    }
    for (const { final } of finals) expect(final.status).toBe("completed");
    expect(vendors.openai.creates().get(`${jobId}-advice`)).toBe(1);
    expect(vendors.kling.creates().get(`${jobId}-style`)).toBe(1);
    expect(vendors.kling.creates().get(`${jobId}-tryon`)).toBe(1);
    const replicateAfter = [...vendors.replicate.creates().values()].reduce((a, b) => a + b, 0);
    expect(replicateAfter - replicateBefore).toBe(1);
  });

  it("carries a watched job to completed on the stream alone", async () => {
    const jobId = await startLook(app.url, "Only a stream", "#2f7d4c");
    const read = await readJobEvents(app.url, jobId, { timeoutMs: 90_000 });
    const events = jobEventsOf(read);
    expectInOrder(events);
    expect(events.at(-1)?.job.status).toBe("completed");
    expect(events.at(-1)?.job.advice?.source).toBe("openai");
    expect(vendors.kling.creates().get(`${jobId}-tryon`)).toBe(1);
  });
});
