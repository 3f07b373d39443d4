import { utimesSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AdvanceDeps } from "@/lib/jobs/advance";
import { type EmbeddedDeps, embeddedDeps } from "@/tests/support/embedded-deps";
import { makeStoredJob } from "@/tests/support/job-factory";

let embedded: EmbeddedDeps;
let dir: string;
let deps: AdvanceDeps;

beforeEach(() => {
  embedded = embeddedDeps("retention", { ttlSeconds: 1 });
  ({ dir, deps } = embedded);
});
afterEach(async () => {
  await embedded.dispose();
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
    expect(results.filter((result) => result !== null)).toEqual([
      { expired: 1, erased: 1, errors: 0, unclaimedUploads: 0 },
    ]);
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
    expect(result).toEqual({ expired: 7, erased: 6, errors: 1, unclaimedUploads: 0 });
    expect(await deps.store.listExpired(Date.now(), 10)).toEqual([stuck]);
  });

  it("deletes direct uploads that no start claimed within an hour, and only those", async () => {
    const { sweepExpiredJobs } = await import("@/lib/jobs/retention");
    const bytes = Buffer.from([0xff, 0xd8, 0xff]);
    const abandoned = await deps.blobs.put("uploads/person-old.jpg", bytes, "image/jpeg");
    const recent = await deps.blobs.put("uploads/person-new.jpg", bytes, "image/jpeg");
    const job = await deps.blobs.put("job-1/person-old.jpg", bytes, "image/jpeg");
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60_000);
    for (const key of [abandoned.key, job.key])
      utimesSync(path.join(dir, "blobs", key), twoHoursAgo, twoHoursAgo);
    const halfAnHourOn = () => Date.now() + 30 * 60_000;

    expect(await sweepExpiredJobs(deps, { limit: 10 })).toMatchObject({ unclaimedUploads: 1, errors: 0 });
    expect(await deps.blobs.get(abandoned)).toBeNull();
    expect(await deps.blobs.get(recent)).not.toBeNull();
    // A job's own files are the retention index's business, however old.
    expect(await deps.blobs.get(job)).not.toBeNull();
    // Half an hour on, the recent one is still inside its hour.
    expect(await sweepExpiredJobs(deps, { limit: 10, now: halfAnHourOn })).toMatchObject({
      unclaimedUploads: 0,
    });
    expect(await deps.blobs.get(recent)).not.toBeNull();
  });

  it("counts a failed upload sweep as an error and still erases the expired jobs", async () => {
    const { sweepExpiredJobs } = await import("@/lib/jobs/retention");
    const job = makeStoredJob({ ownerHash: "me" });
    await deps.store.create(job);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    deps.blobs.deleteStoredBefore = async () => {
      throw new Error("blob API down");
    };
    expect(await sweepExpiredJobs(deps, { limit: 10 })).toEqual({
      expired: 1,
      erased: 1,
      errors: 1,
      unclaimedUploads: 0,
    });
  });
});
