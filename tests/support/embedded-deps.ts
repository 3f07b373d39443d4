import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLocalBlobStore } from "@/lib/blobs/local";
import type { AdvanceDeps } from "@/lib/jobs/advance";
import { jobCodec } from "@/lib/jobs/job-store";
import { createLocalProviders } from "@/lib/providers/local";
import { createSqliteStore } from "@/lib/store/sqlite";

/** The engine's parts in embedded mode, in a fresh temp folder: SQLite, local blobs, the offline studio. */
export interface EmbeddedDeps {
  deps: AdvanceDeps;
  /** The temp folder: `blobs/` holds the blob files, `local-studio/` the offline studio's. */
  dir: string;
  /** Closes the store and removes the folder. */
  dispose(): Promise<void>;
}

export function embeddedDeps(name: string, options: { ttlSeconds: number }): EmbeddedDeps {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  const deps: AdvanceDeps = {
    store: createSqliteStore({
      codec: jobCodec,
      file: path.join(dir, "jobs.db"),
      ttlSeconds: options.ttlSeconds,
    }),
    blobs: createLocalBlobStore({ dir: path.join(dir, "blobs") }),
    providers: createLocalProviders({ dir: path.join(dir, "local-studio"), stepMs: 10 }),
  };
  return {
    deps,
    dir,
    dispose: async () => {
      await deps.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
