import { describe, expect, it } from "vitest";
import { publicJobOf, toPublicJob } from "@/lib/jobs/public-view";
import { clampPollDelay, MAX_POLL_MS, MIN_POLL_MS, publicJobSchema } from "@/lib/public-job";
import { makeStoredJob } from "../support/job-factory";

const NOW = 1_700_000_000_000;

describe("the public job, written once for the status route and the polling hook", () => {
  it("is what the status route builds: the hook's schema parses it unchanged", () => {
    const view = toPublicJob(makeStoredJob({ nextCheckAt: NOW + 3_000 }), NOW);
    expect(publicJobSchema.parse(view)).toEqual(view);
  });

  it("refuses a body that is not a job, so the hook never renders one", () => {
    expect(publicJobSchema.safeParse({ status: "completed" }).success).toBe(false);
    expect(publicJobSchema.safeParse({ ...toPublicJob(makeStoredJob(), NOW), status: "done" }).success).toBe(
      false,
    );
  });

  it("asks for the next poll within the one policy, however far off the next check is", () => {
    expect(toPublicJob(makeStoredJob({ nextCheckAt: NOW + 60_000 }), NOW).pollAfterMs).toBe(MAX_POLL_MS);
    expect(toPublicJob(makeStoredJob({ nextCheckAt: NOW + 10 }), NOW).pollAfterMs).toBe(MIN_POLL_MS);
    expect(toPublicJob(makeStoredJob({ nextCheckAt: NOW + 2_000 }), NOW).pollAfterMs).toBe(2_150);
    expect([0, 1_000, 3_000, 5_000, 99_000].map(clampPollDelay)).toEqual([1_000, 1_000, 3_000, 5_000, 5_000]);
  });

  it("takes every image address from the blob store, the person's photo for its owner only", async () => {
    const base = makeStoredJob({ status: "completed", ownerHash: "owner-1" });
    const job = {
      ...base,
      inputs: {
        ...base.inputs,
        person: { key: `${base.id}/person.jpg`, url: "https://s.private.blob/p.jpg" },
      },
      artifacts: { final: { key: `${base.id}/final.jpg`, url: "https://s.private.blob/f.jpg" } },
    };
    const blobs = { viewUrl: async (ref: { key: string }) => `https://s.private.blob/${ref.key}?signed` };
    const owners = await publicJobOf(job, blobs, "owner-1", NOW);
    expect(owners.imageUrl).toBe(`https://s.private.blob/${base.id}/final.jpg?signed`);
    expect(owners.personImageUrl).toBe(`https://s.private.blob/${base.id}/person.jpg?signed`);
    const shared = await publicJobOf(job, blobs, null, NOW);
    expect(shared.imageUrl).toBe(owners.imageUrl);
    expect(shared.personImageUrl).toBeNull();
    // Nothing resolved: no image at all, never the stored URL.
    expect(JSON.stringify(toPublicJob(job, NOW, "owner-1"))).not.toContain("s.private.blob");
  });
});
