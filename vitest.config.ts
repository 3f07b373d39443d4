import path from "node:path";
import { defineConfig } from "vitest/config";

const alias = { "@": path.resolve(import.meta.dirname) };

/** Suites that drive the built app under `next start`: one file at a time, after the build check. */
function againstBuiltApp(name: string) {
  return {
    resolve: { alias },
    test: {
      name,
      include: [`tests/${name}/**/*.test.ts`],
      globalSetup: ["tests/support/global-setup.ts"],
      testTimeout: 120_000,
      hookTimeout: 180_000,
      fileParallelism: false,
    },
  };
}

export default defineConfig({
  resolve: { alias },
  test: {
    // The app's structured logs are noise while tests pass, evidence when one fails.
    silent: "passed-only",
    projects: [
      // Pure: no server, no Redis, no emulator.
      {
        resolve: { alias },
        test: { name: "unit", include: ["tests/unit/**/*.test.ts"], testTimeout: 20_000 },
      },
      // Conformance: the stores against real Redis/Upstash, the blobs and the real vendor adapters
      // against their emulators (tests/emulators). No app server.
      {
        resolve: { alias },
        test: { name: "contract", include: ["tests/contract/**/*.test.ts"], testTimeout: 20_000 },
      },
      againstBuiltApp("integration"),
      againstBuiltApp("hostile"),
      againstBuiltApp("e2e"),
    ],
  },
});
