import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLocalBlobStore } from "@/lib/blobs/local";
import type { BlobStore } from "@/lib/blobs/types";
import { type AdvanceDeps, type AdvanceOptions, advance } from "@/lib/jobs/advance";
import { type StoredJob, type StoredJobInput, storedJobSchema } from "@/lib/jobs/job";
import { type JobStore, jobCodec } from "@/lib/jobs/job-store";
import { freshStep } from "@/lib/jobs/transitions";
import { createSqliteStore } from "@/lib/store/sqlite";
import { type ScriptedProviders, scriptedProviders } from "@/tests/support/scripted-provider";

export const JOB_ID = "0b7d2f4e-8c1a-4b5e-9f3d-2a6c8e1b4d70";
export const START = 1_700_000_000_000;

/**
 * advance's unit-test bench: a real SQLite store and local blobs in a temp folder, scripted
 * providers, and a fake clock that retries' sleeps move. `newProcess()` opens the same store as
 * another process would: without this process's in-memory state.
 */
export class AdvanceHarness {
  time = START;
  readonly deps: AdvanceDeps;
  private readonly extraStores: JobStore[] = [];

  private constructor(
    readonly dir: string,
    readonly store: JobStore,
    readonly blobs: BlobStore,
    readonly providers: ScriptedProviders,
    deps: Partial<AdvanceDeps>,
  ) {
    this.deps = {
      store,
      blobs,
      providers,
      now: () => this.time,
      sleep: async (ms) => {
        this.time += ms;
      },
      ...deps,
    };
  }

  static async start(deps: Partial<AdvanceDeps> = {}): Promise<AdvanceHarness> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "advance-"));
    const store = createSqliteStore({ codec: jobCodec, file: path.join(dir, "jobs.db"), ttlSeconds: 3600 });
    const blobs = createLocalBlobStore({ dir: path.join(dir, "blobs") });
    return new AdvanceHarness(dir, store, blobs, await scriptedProviders(), deps);
  }

  /** A fresh job in `pending`, created (and so watched) now. */
  async createJob(patch: Partial<StoredJobInput> = {}): Promise<StoredJob> {
    const person = await this.blobs.put(`${JOB_ID}/person-a.jpg`, Buffer.from("person"), "image/jpeg");
    const garment = await this.blobs.put(`${JOB_ID}/garment-a.jpg`, Buffer.from("garment"), "image/jpeg");
    const job = storedJobSchema.parse({
      id: JOB_ID,
      version: 0,
      status: "pending",
      stepIndex: 0,
      current: freshStep(this.time),
      occasion: "Garden party",
      inputs: { person, garment },
      artifacts: {},
      error: null,
      nextCheckAt: 0,
      createdAt: this.time,
      updatedAt: this.time,
      ...patch,
    });
    await this.store.create(job);
    return job;
  }

  async read(store = this.store): Promise<StoredJob> {
    const job = await store.get(JOB_ID);
    if (!job) throw new Error("job vanished");
    return job;
  }

  /** Advances with the clock moved just past the job's next check, as a patient poller would. */
  async advanceWhenDue(options: AdvanceOptions = {}, deps: AdvanceDeps = this.deps): Promise<StoredJob> {
    const before = await this.read(deps.store);
    if (before.nextCheckAt > this.time) this.time = before.nextCheckAt;
    const job = await advance(JOB_ID, deps, options);
    if (!job) throw new Error("job vanished");
    return job;
  }

  /** Advances until the job ends (or `limit` calls), returning the final record. */
  async runToEnd(options: AdvanceOptions = {}, limit = 300): Promise<StoredJob> {
    let job = await this.read();
    for (let i = 0; i < limit && job.status !== "completed" && job.status !== "failed"; i++) {
      job = await this.advanceWhenDue(options, this.deps);
    }
    return job;
  }

  /** The same database opened by another process: same records, none of this process's memory. */
  newProcess(): AdvanceDeps {
    const store = createSqliteStore({
      codec: jobCodec,
      file: path.join(this.dir, "jobs.db"),
      ttlSeconds: 3600,
    });
    this.extraStores.push(store);
    return { ...this.deps, store };
  }

  async close(): Promise<void> {
    await Promise.all([this.store, ...this.extraStores].map((store) => store.close()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
