import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLocalBlobStore } from "@/lib/blobs/local";
import type { AdvanceDeps } from "@/lib/jobs/advance";
import { jobCodec } from "@/lib/jobs/job-store";
import { createLocalProviders } from "@/lib/providers/local";
import { createSqliteStore } from "@/lib/store/sqlite";
import { makeStoredJob } from "@/tests/support/job-factory";

let dir: string;
let deps: AdvanceDeps;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "retention-"));
  deps = {
    store: createSqliteStore({ codec: jobCodec, file: path.join(dir, "jobs.db"), ttlSeconds: 1 }),
    blobs: createLocalBlobStore({ dir: path.join(dir, "blobs") }),
    providers: createLocalProviders({ dir: path.join(dir, "local-studio"), stepMs: 10 }),
  };
});
afterEach(async () => {
  await deps.store.close();
  rmSync(dir, { recursive: true, force: true });
  vi.resetModules();
});

describe("the app's own retention sweep (issue 14)", () => {
  it("erases an expired job's files, and runs once per period however many instances ask", async () => {
    const job = makeStoredJob({ ownerHash: "me" });
    await deps.store.create(job);
    const photo = await deps.blobs.put(
      `${job.id}/person-abc123.jpg`,
      Buffer.from([0xff, 0xd8, 0xff]),
      "image/jpeg",
    );
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    // Two instances: two copies of the module, each with its own memory, sharing one store.
    const first = await import("@/lib/jobs/retention");
    vi.resetModules();
    const second = await import("@/lib/jobs/retention");
    expect(first).not.toBe(second);
    const everyMs = 60_000;
    const results = await Promise.all([
      first.sweepExpiredJobsIfDue(deps, { everyMs }),
      second.sweepExpiredJobsIfDue(deps, { everyMs }),
    ]);
    expect(results.filter((result) => result !== null)).toEqual([{ expired: 1, erased: 1, errors: 0 }]);
    expect(await deps.blobs.get(photo)).toBeNull();
    expect(await deps.store.listExpired(Date.now(), 10)).toEqual([]);
    // The same process asks again only after a period: no store call before then.
    const hit = vi.spyOn(deps.store, "hit");
    expect(await first.sweepExpiredJobsIfDue(deps, { everyMs })).toBeNull();
    expect(hit).not.toHaveBeenCalled();
  });

  it("drains a backlog larger than one batch in one sweep, and leaves a failing erase for the next", async () => {
    const jobs = Array.from({ length: 7 }, () => makeStoredJob({ ownerHash: "me" }));
    for (const job of jobs) {
      await deps.store.create(job);
      await deps.blobs.put(`${job.id}/person-abc123.jpg`, Buffer.from([0xff, 0xd8, 0xff]), "image/jpeg");
    }
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const { sweepExpiredJobs } = await import("@/lib/jobs/retention");
    const stuck = jobs[0]?.id ?? "";
    const realDelete = deps.blobs.deletePrefix.bind(deps.blobs);
    deps.blobs.deletePrefix = async (prefix) => {
      if (prefix === `${stuck}/`) throw new Error("blob API down");
      return realDelete(prefix);
    };
    const result = await sweepExpiredJobs(deps, { limit: 2 });
    expect(result).toEqual({ expired: 7, erased: 6, errors: 1 });
    expect(await deps.store.listExpired(Date.now(), 10)).toEqual([stuck]);
  });
});
