import type { NextConfig } from "next";

/**
 * Built from a copy under `.tmp/bench/` (bench/support/build.ts). Next takes the repo root (where the
 * lockfile is) as its root there, so the baseline uses the repo's own node_modules.
 */
const config: NextConfig = {
  // As in the app: Node-only clients are loaded from node_modules, not bundled.
  serverExternalPackages: ["redis", "@redis/client"],
  poweredByHeader: false,
};

export default config;
