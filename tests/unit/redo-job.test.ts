import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalBlobStore } from "@/lib/blobs/local";
import type { BlobRef, BlobStore } from "@/lib/blobs/types";
import { AppError } from "@/lib/errors";
import { cancelLook } from "@/lib/jobs/cancel-job";
import type { StoredJob } from "@/lib/jobs/job";
import { type JobStore, jobCodec } from "@/lib/jobs/job-store";
import { type RedoClient, redoLook } from "@/lib/jobs/redo-job";
import type { StartDeps } from "@/lib/jobs/start-deps";
import { ownerHashOf } from "@/lib/owners/owner-cookie";
import { createSqliteStore } from "@/lib/store/sqlite";
import { makeStoredJob } from "@/tests/support/job-factory";
import { scriptedProviders } from "@/tests/support/scripted-provider";

const OWNER = ownerHashOf("a".repeat(43));
const STRANGER = ownerHashOf("b".repeat(43));
const CONSENT = { version: "2026-11", at: 1_700_000_000_000 };

let dir: string;
let store: JobStore;
let blobs: BlobStore;
let deps: StartDeps;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "redo-"));
  store = createSqliteStore({ codec: jobCodec, file: path.join(dir, "jobs.db"), ttlSeconds: 3600 });
  blobs = createLocalBlobStore({ dir: path.join(dir, "blobs") });
  deps = {
    store,
    blobs,
    config: {
      onVercelWithoutKv: false,
      jobTtlSeconds: 3600,
      startRateLimit: { max: 0, windowSeconds: 600 },
      maxActiveJobs: 0,
      dailyLookBudget: 0,
    },
  };
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = (ownerHash: string | null = OWNER, idempotencyKey: string | null = null): RedoClient => ({
  key: "client-1",
  idempotencyKey,
  ownerHash,
});

/** A completed look of OWNER's with every file stored under its own id. */
async function completedSource(): Promise<StoredJob> {
  const id = crypto.randomUUID();
  const file = (name: string, ext = "jpg"): Promise<BlobRef> =>
    blobs.put(
      `${id}/${name}-abc.${ext}`,
      Buffer.from(`${name} of ${id}`),
      `image/${ext === "png" ? "png" : "jpeg"}`,
    );
  const job = makeStoredJob({
    id,
    status: "completed",
    stepIndex: 4,
    current: null,
    inputs: { person: await file("person"), garment: await file("garment") },
    artifacts: {
      advice: { summary: "Linen.", pieces: ["linen shirt"], stylePrompt: "linen", source: "openai" },
      style: await file("style", "png"),
      tryon: await file("tryon", "png"),
      final: await file("final", "png"),
    },
    ownerHash: OWNER,
    consent: CONSENT,
  });
  await store.create(job);
  return job;
}

async function read(id: string): Promise<StoredJob> {
  const job = await store.get(id);
  if (!job) throw new Error(`no job ${id}`);
  return job;
}

const codeOf = async (work: Promise<unknown>) => {
  const error = await work.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  return error instanceof AppError ? error.code : error;
};

describe("redoLook", () => {
  it("from tryon: the inputs and the outputs before it copied under the new id, only try-on and face swap to run", async () => {
    const source = await completedSource();
    const { jobId, replayed } = await redoLook(deps, source.id, { from: "tryon", occasion: null }, client());
    expect(replayed).toBe(false);
    const job = await read(jobId);
    expect(job).toMatchObject({
      status: "processing-tryon",
      stepIndex: 2,
      occasion: source.occasion,
      ownerHash: OWNER,
      consent: CONSENT,
      redo: { of: source.id, from: "tryon" },
      creates: 0,
      errorCode: null,
    });
    expect(job.artifacts.advice).toEqual(source.artifacts.advice);
    expect(job.artifacts.tryon).toBeUndefined();
    expect(job.artifacts.final).toBeUndefined();
    const refs = [job.inputs.person, job.inputs.garment, job.artifacts.style];
    for (const ref of refs) expect(ref?.key.startsWith(`${jobId}/`)).toBe(true);
    expect(job.artifacts.style?.key).toMatch(/\.png$/);
    // Copies, not shared files: the bytes are equal, and deleting the source's leaves the redo's.
    await blobs.delete(source.inputs.person);
    expect((await blobs.get(job.inputs.person))?.bytes.toString()).toBe(`person of ${source.id}`);
  });

  it("from advice with a new occasion: nothing reused but the photos", async () => {
    const source = await completedSource();
    const { jobId } = await redoLook(deps, source.id, { from: "advice", occasion: "Picnic" }, client());
    expect(await read(jobId)).toMatchObject({
      status: "pending",
      stepIndex: 0,
      occasion: "Picnic",
      artifacts: {},
    });
  });

  it("refuses another owner (403), no owner cookie (403), an unknown job (404), a missing output (409)", async () => {
    const source = await completedSource();
    const ask = { from: "faceswap", occasion: null } as const;
    expect(await codeOf(redoLook(deps, source.id, ask, client(STRANGER)))).toBe("not_owner");
    expect(await codeOf(redoLook(deps, source.id, ask, client(null)))).toBe("not_owner");
    expect(await codeOf(redoLook(deps, crypto.randomUUID(), ask, client()))).toBe("job_not_found");
    const partial = makeStoredJob({ ownerHash: OWNER, artifacts: { advice: source.artifacts.advice } });
    await store.create(partial);
    expect(await codeOf(redoLook(deps, partial.id, ask, client()))).toBe("redo_source_incomplete");
    await blobs.delete(source.artifacts.tryon as BlobRef);
    expect(await codeOf(redoLook(deps, source.id, ask, client()))).toBe("redo_source_incomplete");
  });

  it("counts against the start's rate limit and in-progress cap", async () => {
    const source = await completedSource();
    const ask = { from: "faceswap", occasion: null } as const;
    deps.config.startRateLimit = { max: 1, windowSeconds: 600 };
    await redoLook(deps, source.id, ask, client());
    expect(await codeOf(redoLook(deps, source.id, ask, client()))).toBe("rate_limited");
    deps.config.startRateLimit = { max: 0, windowSeconds: 600 };
    deps.config.maxActiveJobs = 1; // the first redo is in progress
    expect(await codeOf(redoLook(deps, source.id, ask, client()))).toBe("too_many_active_jobs");
  });

  it("replays a reused Idempotency-Key, and refuses it for another redo", async () => {
    const source = await completedSource();
    const ask = { from: "style", occasion: null } as const;
    const first = await redoLook(deps, source.id, ask, client(OWNER, "key-1"));
    const again = await redoLook(deps, source.id, ask, client(OWNER, "key-1"));
    expect(again).toEqual({ jobId: first.jobId, replayed: true });
    const other = redoLook(deps, source.id, { from: "tryon", occasion: null }, client(OWNER, "key-1"));
    expect(await codeOf(other)).toBe("idempotency_key_reused");
  });
});

describe("cancelLook", () => {
  it("stops the owner's look as cancelled, leaves a finished one, refuses others", async () => {
    const providers = await scriptedProviders();
    const advanceDeps = { store, blobs, providers };
    const running = makeStoredJob({ ownerHash: OWNER });
    await store.create(running);
    expect(await codeOf(cancelLook(advanceDeps, running.id, STRANGER))).toBe("not_owner");
    expect(await codeOf(cancelLook(advanceDeps, running.id, null))).toBe("not_owner");
    expect(await codeOf(cancelLook(advanceDeps, crypto.randomUUID(), OWNER))).toBe("job_not_found");
    const stopped = await cancelLook(advanceDeps, running.id, OWNER);
    expect(stopped).toMatchObject({
      status: "failed",
      error: "You cancelled this look.",
      errorCode: "cancelled",
    });
    const done = await completedSource();
    expect(await cancelLook(advanceDeps, done.id, OWNER)).toEqual(done);
    expect((await cancelLook(advanceDeps, running.id, OWNER)).version).toBe(stopped.version);
  });
});
