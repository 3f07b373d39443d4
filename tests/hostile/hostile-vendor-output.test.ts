import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PublicJob } from "@/lib/public-job";
import type { HostileFile } from "@/tests/emulators/hostile-output";
import { type AppServer, startApp } from "@/tests/support/app-server";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import { colour, expectReadableSentence, pollRecording, report, sleep } from "@/tests/support/hostile";
import { type HostileServer, startHostileServer } from "@/tests/support/hostile-server";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { LOOPBACK_ONLY_NODE_OPTIONS } from "@/tests/support/loopback-only";
import { startJobOver } from "@/tests/support/poll";

/**
 * Issue #12, item 1, over HTTP: the vendor emulators answer with hostile output, the built app (with a
 * guard that keeps it on 127.0.0.0/8) must fail the job with a sentence, reach nothing it should not,
 * and keep its memory.
 */
const TASK_MS = 300;
const MB = 1024 * 1024;
const MEMORY_BUDGET_KB = 100 * 1024;

type Vendor = "kling" | "replicate";
type Hostile = { url: string } | { file: HostileFile };

interface HostileCase {
  name: string;
  hostile: (vendor: Vendor) => Hostile;
  /** What the log's reason says. */
  detail: RegExp;
}

let vendors: VendorEmulators;
let evil: HostileServer;
let app: AppServer;
let person: Buffer;
let baselineKb = 0;
let jobs = 0;

/** The app's resident and peak memory, from /proc (kB). */
function memoryKb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

/** Samples the app's VmRSS every 20 ms while `work` runs; returns its result and the highest sample. */
async function sampled<T>(work: () => Promise<T>): Promise<{ result: T; peakKb: number }> {
  let peakKb = memoryKb(app.pid).rss;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peakKb = Math.max(peakKb, memoryKb(app.pid).rss);
      await sleep(20);
    }
  })();
  try {
    return { result: await work(), peakKb };
  } finally {
    running = false;
    await sampler;
    peakKb = Math.max(peakKb, memoryKb(app.pid).rss);
  }
}

async function runJob(occasion: string) {
  const form = startForm({ person, garment: await garmentPhoto(colour(++jobs)), occasion });
  const jobId = await startJobOver(app.url, form);
  return { jobId, ...(await pollRecording(app.url, jobId, { intervalMs: 100, timeoutMs: 60_000 })) };
}

function script(vendor: Vendor, hostile: Hostile): void {
  if (vendor === "kling") {
    // The style step is Kling's first task: its output is the first result file asked for.
    vendors.kling.faults.push(
      "url" in hostile
        ? { on: "create", match: "generations", kind: "output-url", url: hostile.url }
        : { on: "result", kind: "hostile-file", file: hostile.file },
    );
  } else {
    vendors.replicate.faults.push(
      "url" in hostile
        ? { on: "create", kind: "output-url", url: hostile.url }
        : { on: "file", kind: "hostile-file", file: hostile.file },
    );
  }
}

/** The app's `step.failed` log line for a job. */
function failureLogOf(jobId: string): { kind?: string; failures?: number; detail?: string; step?: string } {
  const line = app.output.find((l) => l.includes('"step.failed"') && l.includes(jobId));
  return line ? JSON.parse(line.slice(line.indexOf("{"))) : {};
}

const secretPath = "/internal/secret.png";

const CASES: HostileCase[] = [
  {
    name: "another loopback address",
    hostile: () => ({ url: `${evil.url}${secretPath}` }),
    detail:
      /^output refused: http:\/\/127\.0\.0\.2:\d+\/internal\/secret\.png: host 127\.0\.0\.2 is neither[^;]*$/,
  },
  {
    name: "a redirect to another loopback address",
    hostile: () => ({ file: { kind: "redirect", location: `${evil.url}${secretPath}` } }),
    detail:
      /^output refused: http:\/\/127\.0\.0\.2:\d+\/internal\/secret\.png: host 127\.0\.0\.2 is neither.*; reached by a redirect from http:\/\/127\.0\.0\.1:\d+\/(results|files)\//,
  },
  {
    name: "a private address",
    hostile: () => ({ url: "https://10.0.0.1/out-0.png" }),
    detail: /^output refused: https:\/\/10\.0\.0\.1\/out-0\.png: host 10\.0\.0\.1 is neither/,
  },
  {
    name: "the cloud metadata address",
    hostile: () => ({ url: "http://169.254.169.254/latest/meta-data/iam/security-credentials/" }),
    detail: /^output refused: http:\/\/169\.254\.169\.254\/latest\/meta-data\/.*host 169\.254\.169\.254/,
  },
  {
    name: "http: on the vendor's own delivery host",
    hostile: (vendor) => ({
      url: vendor === "kling" ? "http://cdn.klingai.com/out.png" : "http://replicate.delivery/x/out-0.png",
    }),
    detail: /^output refused: http:\/\/(cdn\.klingai\.com|replicate\.delivery)\/.*: http: is not https:$/,
  },
  {
    name: "an endless body",
    hostile: () => ({ file: { kind: "endless", sent: { bytes: 0 } } }),
    detail: /^output too-large: http:\/\/127\.0\.0\.1:\d+\/.* sent over 26214400 bytes \(cap reached\)$/,
  },
  {
    name: "a 300 MB body",
    hostile: () => ({ file: { kind: "declared", bytes: 300 * MB, sent: { bytes: 0 } } }),
    detail: /^output too-large: http:\/\/127\.0\.0\.1:\d+\/.* declares 314572800 bytes \(cap 26214400\)$/,
  },
  {
    name: "a non-image with an image signature",
    hostile: () => ({ file: { kind: "fake-image" } }),
    detail: /^output image rejected \(undecodable, 45 bytes\)/,
  },
];

beforeAll(async () => {
  vendors = await startVendorEmulators(TASK_MS);
  evil = await startHostileServer("127.0.0.2");
  app = await startApp({ ...vendors.env, NODE_OPTIONS: LOOPBACK_ONLY_NODE_OPTIONS });
  expect(app.output, "the guard is loaded into the server").toContain(
    `[loopback-only] installed in process ${app.pid}`,
  );
  person = await personPhoto();
  // A whole job through the real adapters first: the allowed path works, and the baseline is warm.
  const warmUp = await runJob("Warm-up");
  expect(warmUp.final.status).toBe("completed");
  await sleep(500);
  baselineKb = memoryKb(app.pid).rss;
});

afterAll(async () => {
  await app?.stop();
  await Promise.all([vendors?.close(), evil?.close()]);
});

/** What every refused job must show: a sentence for the person, the reason in the log, nothing reached. */
function expectRefused(final: PublicJob, jobId: string, vendor: Vendor): { detail?: string } {
  expect(final.status).toBe("failed");
  expect(final.step).toBe(vendor === "kling" ? 2 : 4);
  expectReadableSentence(final.error);
  const log = failureLogOf(jobId);
  // One attempt: a refused output is permanent, never fetched again.
  expect([log.step, log.kind, log.failures]).toEqual([
    vendor === "kling" ? "style" : "faceswap",
    "permanent",
    1,
  ]);
  expect(evil.requests, "the hostile server was reached").toEqual([]);
  expect(app.output.filter((line) => line.includes("[loopback-only] blocked"))).toEqual([]);
  return log;
}

const sentMb = (hostile: Hostile) =>
  "file" in hostile && hostile.file.sent
    ? { emulatorSentMb: +(hostile.file.sent.bytes / MB).toFixed(1) }
    : {};
const mb = (kb: number) => +(kb / 1024).toFixed(1);

describe("hostile vendor output, through the real adapters against next start", () => {
  for (const hostileCase of CASES) {
    it(`kling: ${hostileCase.name} fails the job with a sentence, reaches nothing and keeps the memory`, async () => {
      const hostile = hostileCase.hostile("kling");
      script("kling", hostile);
      // Each case against the memory just before it: a run of jobs grows the heap a little anyway.
      const beforeKb = memoryKb(app.pid).rss;
      const started = Date.now();
      const { result, peakKb } = await sampled(() => runJob(`kling ${hostileCase.name}`));
      const failedAfterMs = Date.now() - started;
      const log = expectRefused(result.final, result.jobId, "kling");
      expect(log.detail).toMatch(hostileCase.detail);
      const growthKb = peakKb - beforeKb;
      expect(growthKb, `peak ${peakKb} kB vs ${beforeKb} kB before`).toBeLessThan(MEMORY_BUDGET_KB);
      report(`vendor output: kling, ${hostileCase.name}`, {
        error: result.final.error,
        detail: log.detail,
        failedAfterMs,
        beforeRssMb: mb(beforeKb),
        peakRssMb: mb(peakKb),
        growthMb: mb(growthKb),
        hostileRequests: evil.requests.length,
        ...sentMb(hostile),
      });
    });
  }

  it("replicate: all eight at once fail their jobs with sentences, reach nothing and keep the memory", async () => {
    const hostiles = CASES.map((hostileCase) => hostileCase.hostile("replicate"));
    // URL overrides go to the first creates; the jobs left fetch their files and meet the file faults.
    for (const hostile of hostiles) script("replicate", hostile);
    const beforeKb = memoryKb(app.pid).rss;
    const started = Date.now();
    const { result: finished, peakKb } = await sampled(() =>
      Promise.all(CASES.map((hostileCase) => runJob(`replicate ${hostileCase.name}`))),
    );
    const failedAfterMs = Date.now() - started;
    const details = finished.map(({ final, jobId }) => expectRefused(final, jobId, "replicate").detail ?? "");
    // Which job met which answer depends on timing; each answer must have failed exactly one job.
    for (const hostileCase of CASES) {
      expect(
        details.filter((detail) => hostileCase.detail.test(detail)),
        hostileCase.name,
      ).toHaveLength(1);
    }
    const growthKb = peakKb - beforeKb;
    expect(growthKb, `peak ${peakKb} kB vs ${beforeKb} kB before`).toBeLessThan(MEMORY_BUDGET_KB);
    report("vendor output: replicate, all eight at once", {
      errors: [...new Set(finished.map(({ final }) => final.error))],
      details,
      failedAfterMs,
      beforeRssMb: mb(beforeKb),
      peakRssMb: mb(peakKb),
      growthMb: mb(growthKb),
      hostileRequests: evil.requests.length,
      emulatorSentMb: hostiles.map((hostile) => sentMb(hostile).emulatorSentMb ?? null),
    });
  });

  it("still completes a normal job afterwards, and nothing tried to leave loopback all along", async () => {
    const { final } = await runJob("After the hostile ones");
    expect(final.status).toBe("completed");
    const { rss, hwm } = memoryKb(app.pid);
    report("vendor output: the whole run", {
      jobs,
      warmBaselineRssMb: mb(baselineKb),
      finalRssMb: mb(rss),
      peakEverMb: mb(hwm),
    });
    expect(app.output.filter((line) => line.includes("[loopback-only] blocked"))).toEqual([]);
    expect(evil.requests).toEqual([]);
  });
});
