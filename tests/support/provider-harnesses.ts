import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { expect } from "vitest";
import { createKlingProviders } from "@/lib/providers/kling";
import { createLocalProviders } from "@/lib/providers/local";
import { createOpenAIAdviceProvider } from "@/lib/providers/openai";
import { createReplicateFaceSwapProvider } from "@/lib/providers/replicate";
import type { Advice, ImageInput, ImageResult, Providers, TaskProvider } from "@/lib/providers/types";
import { startKlingEmulator } from "@/tests/emulators/kling";
import { startOpenAIEmulator } from "@/tests/emulators/openai";
import { startReplicateEmulator } from "@/tests/emulators/replicate";
import { garmentPhoto, personPhoto } from "@/tests/support/images";

/**
 * One small harness per adapter for the TaskProvider conformance suite
 * (tests/contract/task-provider-conformance.test.ts): how to build the provider against its emulator (or
 * the offline studio's folder), an input, what a real output looks like, and how to script each fault
 * through the emulator's `faults` queue. A case an adapter cannot have is named with its reason.
 */

/** The cases of the suite, in order. */
export const CONFORMANCE_CASES = [
  "submit and check to success",
  "findTask",
  "malformed answer",
  "hang",
  "refused connection",
  "wrong key",
  "cancelled task",
  "stuck task",
] as const;
export type ConformanceCase = (typeof CONFORMANCE_CASES)[number];

// biome-ignore lint/suspicious/noExplicitAny: the suite runs one body over providers of every step type.
export type AnyProvider = TaskProvider<any, any>;

/** Why a case does not apply; `proof` asserts that reason on the provider where it can be asserted. */
export interface NotApplicable {
  reason: string;
  proof?: (provider: AnyProvider) => void;
}

/** A variant of the provider under test. */
export interface ProviderVariant {
  /** Where its requests go instead of the emulator (e.g. a closed port). */
  origin?: string;
  /** Credentials the emulator does not accept. */
  wrongKey?: boolean;
  /** The provider's own timeouts, for creates and checks alike. */
  timeoutMs?: number;
}

export interface LiveHarness {
  provider(variant?: ProviderVariant): AnyProvider;
  input: unknown;
  /** Fails unless the output is a real result: the advice reads, the image decodes. */
  expectOutput(output: unknown): Promise<void>;
  /** Scripts the next create or check through the emulator's fault queue. */
  fault(on: "create" | "check", fault: "malformed" | { hangMs: number }): void;
  /** A provider whose next task never finishes. */
  stuckProvider(): AnyProvider;
  /** What no error's message or detail may carry (keys, tokens). */
  secrets: string[];
  /** What no person-facing message may name (our endpoints). */
  addresses: string[];
  reset(): void;
  close(): Promise<void>;
}

export interface ProviderHarness {
  name: string;
  notApplicable: Partial<Record<ConformanceCase, NotApplicable>>;
  /** How long the emulator's tasks take (the suite waits past it for a stuck task). */
  taskMs: number;
  start(): Promise<LiveHarness>;
}

const TASK_MS = 250;
const noWire = (what: string): NotApplicable => ({
  reason: `the offline studio works in this process: there is no ${what}`,
});
const noCancelApi = (vendor: string): NotApplicable => ({
  reason: `${vendor} has no cancel API, so no task of ours ends cancelled`,
  proof: (provider) => expect(provider.cancel).toBeUndefined(),
});

const bytesOf = (bytes: Buffer): ImageInput => ({ url: async () => null, load: async () => bytes });

/** The photos every harness sends: a person and a garment, as the normalised JPEGs the pipeline hands over. */
async function photos(): Promise<{ person: ImageInput; garment: ImageInput }> {
  const [person, garment] = await Promise.all([personPhoto(600, 800), garmentPhoto("#1f4e9c", 600)]);
  return { person: bytesOf(person), garment: bytesOf(await sharp(garment).jpeg().toBuffer()) };
}

async function expectImage(output: unknown): Promise<void> {
  const { image } = output as ImageResult;
  let bytes: Buffer;
  if ("url" in image) {
    const download = await fetch(image.url);
    expect(download.status).toBe(200);
    bytes = Buffer.from(await download.arrayBuffer());
  } else {
    bytes = image.bytes;
  }
  const { width = 0, height = 0 } = await sharp(bytes).metadata();
  expect(width * height).toBeGreaterThan(0);
}

async function expectAdvice(output: unknown, source: Advice["source"]): Promise<void> {
  const advice = output as Advice;
  expect(advice.source).toBe(source);
  expect(advice.summary.length).toBeGreaterThan(0);
  expect(advice.pieces.length).toBeGreaterThan(0);
  expect(advice.stylePrompt.length).toBeGreaterThan(0);
}

/** A sink on 127.0.0.1 for the webhooks an emulator posts (nothing here may reach the internet). */
async function startSink(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const OPENAI_KEY = "test-openai-key";
const WRONG_OPENAI_KEY = "sk-wrong-conformance-key";

export const openAIHarness: ProviderHarness = {
  name: "openai-advice (emulator)",
  taskMs: TASK_MS,
  notApplicable: {
    findTask: {
      reason: "OpenAI has no list of responses to look one up in (a lost create returns through its webhook)",
      proof: (provider) => expect(provider.findTask).toBeUndefined(),
    },
  },
  async start() {
    const emulator = await startOpenAIEmulator({ apiKey: OPENAI_KEY, taskDurationMs: TASK_MS });
    const provider = (variant: ProviderVariant = {}) =>
      createOpenAIAdviceProvider({
        apiKey: variant.wrongKey ? WRONG_OPENAI_KEY : OPENAI_KEY,
        baseURL: `${variant.origin ?? emulator.url}/v1`,
        model: "gpt-4.1-mini",
        timeoutMs: variant.timeoutMs,
        createTimeoutMs: variant.timeoutMs,
      });
    return {
      provider,
      input: { occasion: "Summer wedding guest", ...(await photos()) },
      expectOutput: (output) => expectAdvice(output, "openai"),
      fault(on, fault) {
        const target = on === "create" ? "create" : "get";
        emulator.faults.push(
          fault === "malformed"
            ? { on: target, kind: "malformed" }
            : { on: target, kind: "hang", ms: fault.hangMs },
        );
      },
      stuckProvider() {
        emulator.faults.push({ on: "create", kind: "never-finishes" });
        return provider();
      },
      secrets: [OPENAI_KEY, WRONG_OPENAI_KEY],
      addresses: [emulator.url, "127.0.0.1"],
      reset: () => emulator.reset(),
      close: () => emulator.close(),
    };
  },
};

const KLING_SECRET = "test-secret";
const WRONG_KLING_SECRET = "not-the-conformance-secret";

/** Both Kling providers share one client; the suite runs each against the emulator. */
function klingHarness(step: "style" | "tryon"): ProviderHarness {
  return {
    name: `kling-${step} (emulator)`,
    taskMs: TASK_MS,
    notApplicable: { "cancelled task": noCancelApi("Kling") },
    async start() {
      const emulator = await startKlingEmulator({ taskDurationMs: TASK_MS });
      const provider = (variant: ProviderVariant = {}) =>
        createKlingProviders({
          accessKey: "test-access",
          secretKey: variant.wrongKey ? WRONG_KLING_SECRET : KLING_SECRET,
          baseUrl: variant.origin ?? emulator.url,
          styleModel: "kling-v1-5",
          tryonModel: "kolors-virtual-try-on-v1-5",
          timeoutMs: variant.timeoutMs,
          createTimeoutMs: variant.timeoutMs,
        })[step];
      const { person, garment } = await photos();
      return {
        provider,
        input:
          step === "style"
            ? { person, garment, prompt: "A linen suit for a garden wedding" }
            : { styled: person, garment },
        expectOutput: expectImage,
        fault(on, fault) {
          const target = on === "create" ? "create" : "query";
          emulator.faults.push(
            fault === "malformed"
              ? { on: target, kind: "malformed" }
              : { on: target, kind: "hang", ms: fault.hangMs },
          );
        },
        stuckProvider() {
          emulator.faults.push({ on: "create", kind: "never-finishes" });
          return provider();
        },
        secrets: [KLING_SECRET, WRONG_KLING_SECRET],
        addresses: [emulator.url, "127.0.0.1"],
        reset: () => emulator.reset(),
        close: () => emulator.close(),
      };
    },
  };
}

const REPLICATE_TOKEN = "test-replicate-token";
const WRONG_REPLICATE_TOKEN = "r8_wrong_conformance_token";

export const replicateHarness: ProviderHarness = {
  name: "replicate-faceswap (emulator)",
  taskMs: TASK_MS,
  notApplicable: {},
  async start() {
    // Showing each prediction's webhook lets findTask recognise ours, as Replicate's JS client types it.
    const emulator = await startReplicateEmulator({
      token: REPLICATE_TOKEN,
      taskDurationMs: TASK_MS,
      showsWebhook: true,
    });
    const sink = await startSink();
    const provider = (variant: ProviderVariant = {}) =>
      createReplicateFaceSwapProvider({
        token: variant.wrongKey ? WRONG_REPLICATE_TOKEN : REPLICATE_TOKEN,
        baseUrl: variant.origin ?? emulator.url,
        model: "codeplugtech/face-swap",
        targetField: "input_image",
        faceField: "swap_image",
        webhookUrl: () => `${sink.url}/api/generation/callback/replicate`,
        timeoutMs: variant.timeoutMs,
        createTimeoutMs: variant.timeoutMs,
      });
    const { person, garment } = await photos();
    return {
      provider,
      input: { target: garment, face: person },
      expectOutput: expectImage,
      fault(on, fault) {
        const target = on === "create" ? "create" : "get";
        emulator.faults.push(
          fault === "malformed"
            ? { on: target, kind: "malformed" }
            : { on: target, kind: "hang", ms: fault.hangMs },
        );
      },
      stuckProvider() {
        emulator.faults.push({ on: "create", kind: "never-finishes" });
        return provider();
      },
      secrets: [REPLICATE_TOKEN, WRONG_REPLICATE_TOKEN],
      addresses: [emulator.url, "127.0.0.1"],
      reset: () => emulator.reset(),
      close: async () => {
        await emulator.close();
        await sink.close();
      },
    };
  },
};

/** The offline studio, one harness per step: its tasks are files in a fresh folder under the OS temp dir. */
function localHarness(step: keyof Providers): ProviderHarness {
  return {
    name: `local-${step} (offline studio)`,
    taskMs: TASK_MS,
    notApplicable: {
      "malformed answer": noWire("answer to garble (its records are its own files)"),
      hang: noWire("remote call to hang"),
      "refused connection": noWire("connection to refuse"),
      "wrong key": noWire("key to get wrong"),
      "cancelled task": {
        reason: "the offline studio has nothing to cancel: a task is done when its time is up",
        proof: (provider) => expect(provider.cancel).toBeUndefined(),
      },
    },
    async start() {
      const dir = await mkdtemp(path.join(tmpdir(), `conformance-local-${step}-`));
      const studio = (stepMs: number) => createLocalProviders({ dir, stepMs })[step];
      const { person, garment } = await photos();
      const inputs: Record<keyof Providers, unknown> = {
        advice: { occasion: "Summer wedding guest", person, garment },
        style: { person, garment, prompt: "A linen suit for a garden wedding" },
        tryon: { styled: person, garment },
        faceswap: { target: person, face: person },
      };
      return {
        provider: () => studio(TASK_MS),
        input: inputs[step],
        expectOutput: (output) => (step === "advice" ? expectAdvice(output, "offline") : expectImage(output)),
        fault() {
          throw new Error("the offline studio has no fault queue");
        },
        // A step an hour long: the analogue of a vendor task that never finishes.
        stuckProvider: () => studio(60 * 60_000),
        secrets: [],
        addresses: [dir],
        reset() {},
        close: () => rm(dir, { recursive: true, force: true }),
      };
    },
  };
}

/** Every adapter, each against its emulator, and the offline studio's four steps. */
export const PROVIDER_HARNESSES: ProviderHarness[] = [
  openAIHarness,
  klingHarness("style"),
  klingHarness("tryon"),
  replicateHarness,
  localHarness("advice"),
  localHarness("style"),
  localHarness("tryon"),
  localHarness("faceswap"),
];
