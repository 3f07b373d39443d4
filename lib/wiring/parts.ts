import { createLocalBlobStore } from "@/lib/blobs/local";
import type { BlobStore } from "@/lib/blobs/types";
import { createVercelBlobStore } from "@/lib/blobs/vercel-blob";
import { type AppConfig, getConfig } from "@/lib/config";
import type { AdvanceDeps } from "@/lib/jobs/advance";
import type { JobStore } from "@/lib/jobs/job-store";
import type { Providers } from "@/lib/providers/types";
import { carriersFrom } from "@/lib/wiring/carriers";
import { createProviders } from "@/lib/wiring/create-providers";
import { createJobStore } from "@/lib/wiring/create-store";

/**
 * The process's configured parts, built once on first use. lib/wiring/ is the composition root: the
 * only folder that imports every part and hands each the narrow dependencies it takes.
 */
export interface Parts extends AdvanceDeps {
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
const holder = globalThis as typeof globalThis & { __styleStudioParts?: Parts };

export function getParts(): Parts {
  if (!holder.__styleStudioParts) {
    const config = getConfig();
    holder.__styleStudioParts = {
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
  return holder.__styleStudioParts;
}
