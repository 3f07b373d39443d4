import type { BlobStore } from "@/lib/blobs/types";
import type { AppConfig } from "@/lib/config";
import type { JobStore } from "@/lib/jobs/job-store";

/** What starting a look needs: where jobs and photos go, and the settings its limits read. */
export interface StartDeps {
  store: JobStore;
  blobs: BlobStore;
  config: Pick<
    AppConfig,
    "onVercelWithoutKv" | "jobTtlSeconds" | "startRateLimit" | "maxActiveJobs" | "dailyLookBudget"
  >;
}
