import { existsSync } from "node:fs";
import path from "node:path";

/** The integration suites run the production build: `npm test` builds it first. */
export default function setup(): void {
  const buildId = path.resolve(import.meta.dirname, "../../.next/BUILD_ID");
  if (!existsSync(buildId)) {
    throw new Error(
      "No production build: run `npm run build` (npm test does it) before the integration tests.",
    );
  }
}
