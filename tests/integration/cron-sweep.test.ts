import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobCodec } from "@/lib/jobs/job-store";
import { createSqliteStore } from "@/lib/store/sqlite";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { startJobOver } from "@/tests/support/poll";

const CRON_SECRET = "test-cron-secret-0123456789";

describe("the cron sweep", () => {
  let app: AppServer;
  beforeAll(async () => {
    app = await startApp({ CRON_SECRET, LOCAL_STUDIO_STEP_MS: "200" });
  });
  afterAll(async () => app?.stop());

  const sweep = (authorization?: string) =>
    fetch(`${app.url}/api/cron/advance`, { headers: authorization ? { authorization } : {} });

  it("is refused without the right bearer secret", async () => {
    for (const header of [undefined, "Bearer wrong", `Bearer ${CRON_SECRET}x`, CRON_SECRET]) {
      const response = await sweep(header);
      expect(response.status).toBe(401);
      expect((await response.json()).code).toBe("unauthorized");
    }
  });

  it("finishes a job that nobody polls", async () => {
    const form = startForm({
      person: await personPhoto(),
      garment: await garmentPhoto(),
      occasion: "Closed the tab",
    });
    const jobId = await startJobOver(app.url, form);
    let rounds = 0;
    for (; rounds < 60; rounds++) {
      const response = await sweep(`Bearer ${CRON_SECRET}`);
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body.errors).toBe(0);
      if ((await readOnly(jobId)) === "completed") break;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(await readOnly(jobId)).toBe("completed");
    expect(rounds).toBeGreaterThan(2);
  });

  /** The job's status straight from the app's store: a status poll would advance it itself. */
  async function readOnly(jobId: string) {
    const store = createSqliteStore({
      codec: jobCodec,
      file: path.join(app.dataDir, "jobs.db"),
      ttlSeconds: 3600,
    });
    try {
      return (await store.get(jobId))?.status;
    } finally {
      await store.close();
    }
  }
});

describe("wrong methods", () => {
  let app: AppServer;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => app?.stop());

  it("answer 405 JSON with an Allow header on every route", async () => {
    const cases: Array<[string, string, string]> = [
      ["GET", "/api/generation/start", "POST"],
      ["DELETE", "/api/generation/start", "POST"],
      ["POST", "/api/generation/status?jobId=x", "GET"],
      ["PUT", "/api/files/a/b.jpg", "GET"],
      ["POST", "/api/cron/advance", "GET"],
    ];
    for (const [method, path, allow] of cases) {
      const response = await fetch(`${app.url}${path}`, { method });
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe(allow);
      expect((await response.json()).code).toBe("method_not_allowed");
    }
  });
});
