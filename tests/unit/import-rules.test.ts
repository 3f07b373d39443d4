import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

/**
 * The folder rules in biome.json hold: a wrong import written into each restricted folder fails
 * `biome lint` naming noRestrictedImports, and an allowed one passes. The probes are real files in
 * the checkout (Biome matches its overrides by path), removed in `finally`.
 */

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");
const RULE = "lint/style/noRestrictedImports";

/** A restricted folder and an import it may not make. */
const WRONG: ReadonlyArray<{ folder: string; source: string }> = [
  {
    folder: "lib",
    source:
      'import { createSqliteStore } from "@/lib/store/sqlite";\nexport const probe = createSqliteStore;',
  },
  {
    folder: "lib/store",
    source: 'import { advance } from "@/lib/jobs/advance";\nexport const probe = advance;',
  },
  {
    folder: "lib/blobs",
    source: 'import { getParts } from "@/lib/wiring/parts";\nexport const probe = getParts;',
  },
  {
    folder: "lib/providers",
    source: 'import { startJob } from "@/lib/jobs/start-job";\nexport const probe = startJob;',
  },
  {
    folder: "lib/providers/kling",
    source:
      'import { klingCallbackUrlFor } from "@/lib/callbacks/callback-urls";\nexport const probe = klingCallbackUrlFor;',
  },
  {
    folder: "lib/outputs",
    source: 'import { advance } from "@/lib/jobs/advance";\nexport const probe = advance;',
  },
  {
    folder: "lib/images",
    source: 'import { getParts } from "@/lib/wiring/parts";\nexport const probe = getParts;',
  },
  {
    folder: "components",
    source:
      'import { createSqliteStore } from "@/lib/store/sqlite";\nexport const probe = createSqliteStore;',
  },
  { folder: "hooks", source: 'import { readFile } from "node:fs/promises";\nexport const probe = readFile;' },
  {
    folder: "hooks",
    source: 'import { signalJob } from "@/lib/streams/job-signals";\nexport const probe = signalJob;',
  },
  {
    folder: "lib/store",
    source: 'import { signalJob } from "@/lib/streams/job-signals";\nexport const probe = signalJob;',
  },
  {
    folder: "hooks",
    source: 'import { readStart } from "@/lib/intake/read-start";\nexport const probe = readStart;',
  },
];

/** Browser code may still import the client-safe modules: the step catalogue, the public job, the start rules, the consent text. */
const ALLOWED = {
  folder: "components",
  source: [
    'import { CONSENT_VERSION } from "@/lib/consent";',
    'import type { JobErrorCode } from "@/lib/job-errors";',
    'import type { PublicJob } from "@/lib/public-job";',
    'import { MAX_OCCASION_CHARS } from "@/lib/start-rules";',
    'import type { StepName } from "@/lib/step-catalogue";',
    "export type Probe = [PublicJob, StepName, typeof MAX_OCCASION_CHARS, JobErrorCode, typeof CONSENT_VERSION];",
  ].join("\n"),
};

async function lint(files: string[]): Promise<{ failed: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run("npx", ["biome", "lint", "--max-diagnostics=100", ...files], {
      cwd: root,
    });
    return { failed: false, output: stdout + stderr };
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    return { failed: true, output: stdout + stderr };
  }
}

async function withProbes<T>(
  probes: ReadonlyArray<{ folder: string; source: string }>,
  work: (files: string[]) => Promise<T>,
): Promise<T> {
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const files = probes.map(({ folder }, i) => path.join(folder, `zz-import-rule-probe-${tag}-${i}.ts`));
  try {
    await Promise.all(
      probes.map(({ source }, i) => writeFile(path.join(root, files[i] ?? ""), `${source}\n`)),
    );
    return await work(files);
  } finally {
    await Promise.all(files.map((file) => rm(path.join(root, file), { force: true })));
  }
}

describe("folder import rules (biome.json)", () => {
  it("fails lint on a wrong import in each restricted folder, naming the rule", async () => {
    const { failed, output } = await withProbes(WRONG, lint);
    expect(failed).toBe(true);
    for (const { folder } of WRONG) {
      expect(output, folder).toMatch(
        new RegExp(`${folder.replaceAll("/", "[\\\\/]")}[\\\\/]zz-import-rule-probe-\\S+:\\d+:\\d+ ${RULE}`),
      );
    }
  }, 60_000);

  it("passes the client-safe modules in browser code", async () => {
    const { failed, output } = await withProbes([ALLOWED], lint);
    expect(output).not.toContain(RULE);
    expect(failed).toBe(false);
  }, 60_000);
});
