import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AdvanceDeps } from "@/lib/jobs/advance";
import { deleteAllOwnedLooks, ERASE_CONCURRENCY } from "@/lib/jobs/owner-looks";
import { type EmbeddedDeps, embeddedDeps } from "@/tests/support/embedded-deps";
import { makeStoredJob } from "@/tests/support/job-factory";

let embedded: EmbeddedDeps;
let deps: AdvanceDeps;

beforeEach(() => {
  embedded = embeddedDeps("owner-looks", { ttlSeconds: 3600 });
  deps = embedded.deps;
});
afterEach(() => embedded.dispose());

describe("delete all my looks", () => {
  it("erases a few looks at a time, every one of the owner's and nobody else's", async () => {
    const mine = Array.from({ length: 10 }, () => makeStoredJob({ ownerHash: "me" }));
    const theirs = makeStoredJob({ ownerHash: "someone-else" });
    for (const job of [...mine, theirs]) {
      await deps.store.create(job);
      await deps.blobs.put(`${job.id}/person-abc123.jpg`, Buffer.from([0xff, 0xd8, 0xff]), "image/jpeg");
    }
    // Each erase's blob delete takes 50 ms here, so how many overlap is measured, not guessed.
    let inFlight = 0;
    let mostInFlight = 0;
    const realDeletePrefix = deps.blobs.deletePrefix.bind(deps.blobs);
    deps.blobs.deletePrefix = async (prefix) => {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight--;
      return realDeletePrefix(prefix);
    };

    expect(await deleteAllOwnedLooks(deps, "me")).toBe(10);
    expect(mostInFlight).toBe(ERASE_CONCURRENCY);
    expect(await deps.store.listByOwner("me", 100)).toEqual([]);
    for (const job of mine) expect(await deps.store.get(job.id)).toBeNull();
    expect(await deps.store.get(theirs.id)).not.toBeNull();
    expect(await deps.blobs.get({ key: `${theirs.id}/person-abc123.jpg`, url: "" })).not.toBeNull();
  });

  it("deletes nothing for a browser without an owner cookie", async () => {
    const job = makeStoredJob({ ownerHash: "me" });
    await deps.store.create(job);
    expect(await deleteAllOwnedLooks(deps, null)).toBe(0);
    expect(await deps.store.get(job.id)).not.toBeNull();
  });
});
