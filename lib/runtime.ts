import { createLocalBlobStore } from "@/lib/blobs/local";
import type { BlobStore } from "@/lib/blobs/types";
import { createVercelBlobStore } from "@/lib/blobs/vercel-blob";
import { type AppConfig, getConfig } from "@/lib/config";
import type { AdvanceDeps } from "@/lib/jobs/advance";
import { carriersFrom } from "@/lib/jobs/unattended";
import { createProviders } from "@/lib/providers/create-providers";
import type { Providers } from "@/lib/providers/types";
import { createJobStore } from "@/lib/store/create-store";
import type { JobStore } from "@/lib/store/types";

/** The process's configured parts, built once on first use. */
export interface Runtime extends AdvanceDeps {
  config: AppConfig;
  store: JobStore;
  blobs: BlobStore;
  providers: Providers;
}

function createBlobStore(config: AppConfig): BlobStore {
  switch (config.blobs.kind) {
    case "local":
      return createLocalBlobStore({ dir: config.blobs.dir });
    case "vercel-blob":
      // The blob config is exactly the store's options: its token, and the API URL when one is set.
      return createVercelBlobStore(config.blobs);
  }
}

// Kept on globalThis so that `next dev` reloads reuse one store connection.
const holder = globalThis as typeof globalThis & { __styleStudioRuntime?: Runtime };

export function getRuntime(): Runtime {
  if (!holder.__styleStudioRuntime) {
    const config = getConfig();
    holder.__styleStudioRuntime = {
      config,
      store: createJobStore(config.store, { ttlSeconds: config.jobTtlSeconds, keyPrefix: config.keyPrefix }),
      blobs: createBlobStore(config),
      providers: createProviders(config),
      leaseMs: config.leaseMs,
      createTimeoutMs: config.createTimeoutMs,
      providerTimeoutMs: config.callTimeoutMs,
      carriers: carriersFrom(config),
    };
  }
  return holder.__styleStudioRuntime;
}
