import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createReplicateFaceSwapProvider,
  type ReplicateFaceSwapProviderOptions,
} from "@/lib/providers/replicate";
import { DATA_URL_MAX_BYTES } from "@/lib/providers/replicate/data-url";
import { REPLICATE_MESSAGES } from "@/lib/providers/replicate/errors";
import {
  type CheckResult,
  type FaceSwapInput,
  type ImageResult,
  ProviderError,
  type TaskProvider,
} from "@/lib/providers/types";
import {
  type ReplicateEmulator,
  type ReplicateFault,
  startReplicateEmulator,
} from "@/tests/emulators/replicate";
import { personPhoto } from "@/tests/support/images";

const TOKEN = "test-replicate-token";
const TASK_MS = 200;
const MODEL = "codeplugtech/face-swap";

let emulator: ReplicateEmulator;
let photos: Server;
let photosUrl: string;
let target: Buffer;
let face: Buffer;
let input: FaceSwapInput;

beforeAll(async () => {
  emulator = await startReplicateEmulator({ token: TOKEN, taskDurationMs: TASK_MS });
  [target, face] = await Promise.all([personPhoto(360, 480), personPhoto(300, 400)]);
  input = {
    target: { url: async () => null, load: async () => target },
    face: { url: async () => null, load: async () => face },
  };
  // Stands in for public blob storage, so the emulator can fetch inputs passed by URL.
  photos = createServer((req, res) => {
    res.writeHead(200, { "content-type": "image/jpeg" }).end(req.url === "/face.jpg" ? face : target);
  });
  await new Promise<void>((resolve) => photos.listen(0, "127.0.0.1", resolve));
  photosUrl = `http://127.0.0.1:${(photos.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await emulator.close();
  await new Promise((resolve) => photos.close(resolve));
});
beforeEach(() => emulator.reset());

function provider(options: Partial<ReplicateFaceSwapProviderOptions> = {}, on = emulator) {
  return createReplicateFaceSwapProvider({
    token: TOKEN,
    baseUrl: on.url,
    model: MODEL,
    targetField: "input_image",
    faceField: "swap_image",
    ...options,
  });
}

const ctx = (attempt = 1, signal = AbortSignal.timeout(10_000)) => ({
  idempotencyKey: `job-1-faceswap-${attempt}`,
  signal,
});
const checkCtx = () => ({ signal: AbortSignal.timeout(5_000) });

async function settle(
  p: TaskProvider<FaceSwapInput, ImageResult>,
  taskId: string,
): Promise<CheckResult<ImageResult>> {
  for (let polls = 0; polls < 100; polls++) {
    const result = await p.check(taskId, checkCtx());
    if (result.state !== "running") return result;
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  throw new Error(`prediction ${taskId} never finished`);
}

function expectSafe(error: ProviderError): ProviderError {
  for (const secret of [TOKEN, emulator.url, "127.0.0.1"]) expect(error.message).not.toContain(secret);
  expect(error.detail ?? "").not.toContain(TOKEN);
  return error;
}

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => expect.fail("expected a rejection"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return expectSafe(error as ProviderError);
}

const dataUrlBytes = (value: unknown) => Buffer.from(String(value).split(",")[1] ?? "", "base64");

describe("Replicate face-swap provider against the emulator", () => {
  it("runs a prediction to a downloadable image", async () => {
    const p = provider();
    const { taskId } = await p.submit(input, ctx());
    expect(await p.check(taskId, checkCtx())).toMatchObject({ state: "running" });
    const result = await settle(p, taskId);
    if (result.state !== "succeeded" || !("url" in result.output.image))
      throw new Error(JSON.stringify(result));
    const download = await fetch(result.output.image.url);
    expect(download.status).toBe(200);
    const meta = await sharp(Buffer.from(await download.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: "png", width: 360, height: 480 });
  });

  it("runs owner/name on the model endpoint and versions on /v1/predictions", async () => {
    await provider().submit(input, ctx());
    await provider({ model: `${MODEL}:abc123` }).submit(input, ctx());
    await provider({ model: "def456" }).submit(input, ctx());
    const [latest, pinned, bare] = emulator.createRequests();
    expect(latest).toMatchObject({ path: "/v1/models/codeplugtech/face-swap/predictions" });
    expect(latest?.body.version).toBeUndefined();
    expect(pinned).toMatchObject({ path: "/v1/predictions", body: { version: "abc123" } });
    expect(bare).toMatchObject({ path: "/v1/predictions", body: { version: "def456" } });
  });

  it("sends small photos as data URLs, shrinking large ones under the limit", async () => {
    // Noise defeats JPEG compression, so this photo is well over the data URL limit.
    const noise = { type: "gaussian", mean: 128, sigma: 60 } as const;
    const noisy = await sharp({
      create: { width: 1200, height: 1600, channels: 3, background: "#808080", noise },
    })
      .jpeg({ quality: 95 })
      .toBuffer();
    expect(noisy.length).toBeGreaterThan(DATA_URL_MAX_BYTES);
    await provider().submit({ ...input, target: { url: async () => null, load: async () => noisy } }, ctx());
    const sent = emulator.createRequests()[0]?.body.input as Record<string, string>;
    expect(sent.input_image).toMatch(/^data:image\/jpeg;base64,/);
    expect(dataUrlBytes(sent.input_image).length).toBeLessThanOrEqual(DATA_URL_MAX_BYTES);
    expect((await sharp(dataUrlBytes(sent.input_image)).metadata()).format).toBe("jpeg");
    expect(dataUrlBytes(sent.swap_image).equals(face)).toBe(true);
  });

  it("passes public URLs as they are and honours configured field names", async () => {
    const renamed = await startReplicateEmulator({
      token: TOKEN,
      taskDurationMs: TASK_MS,
      targetField: "target_image",
    });
    try {
      const p = provider({ targetField: "target_image" }, renamed);
      const { taskId } = await p.submit(
        {
          target: { url: async () => `${photosUrl}/target.jpg`, load: async () => Buffer.alloc(0) },
          face: { url: async () => `${photosUrl}/face.jpg`, load: async () => Buffer.alloc(0) },
        },
        ctx(),
      );
      expect(renamed.createRequests()[0]?.body.input).toEqual({
        target_image: `${photosUrl}/target.jpg`,
        swap_image: `${photosUrl}/face.jpg`,
      });
      expect(await settle(p, taskId)).toMatchObject({ state: "succeeded" });
    } finally {
      await renamed.close();
    }
  });

  it("asks for a completed webhook only when a webhook URL is given", async () => {
    await provider({
      webhookUrl: () => `${photosUrl}/api/hooks/replicate?jobId=job-1`,
    }).submit(input, ctx());
    await provider({ webhookUrl: () => undefined }).submit(input, ctx());
    const [hooked, plain] = emulator.createRequests();
    // The submit's key rides in the URL: every delivery (the `start` one too) names its submit.
    expect(hooked?.body).toMatchObject({
      webhook: `${photosUrl}/api/hooks/replicate?jobId=job-1&idempotency_key=job-1-faceswap-1`,
      webhook_events_filter: ["completed"],
    });
    expect(plain?.body).not.toHaveProperty("webhook");
    expect(plain?.body).not.toHaveProperty("webhook_events_filter");
  });

  it("takes the first URL when the model answers a list", async () => {
    const listing = await startReplicateEmulator({
      token: TOKEN,
      taskDurationMs: TASK_MS,
      outputAsList: true,
    });
    try {
      const p = provider({}, listing);
      const result = await settle(p, (await p.submit(input, ctx())).taskId);
      expect(result).toMatchObject({
        state: "succeeded",
        output: { image: { url: expect.stringMatching(/\/files\/.+\.png$/) } },
      });
    } finally {
      await listing.close();
    }
  });

  it("retries a throttled create (Retry-After honoured) without a second paid prediction", async () => {
    emulator.faults.push({ on: "create", kind: "http", status: 429, headers: { "retry-after": "7" } });
    const p = provider();
    const error = await rejection(p.submit(input, ctx()));
    expect(error).toMatchObject({ kind: "transient", message: REPLICATE_MESSAGES.busy, retryAfterMs: 7000 });
    const { taskId } = await p.submit(input, ctx());
    expect((await settle(p, taskId)).state).toBe("succeeded");
    expect([...emulator.creates().values()]).toEqual([1]);
  });

  it.each<[number, "transient" | "permanent", string]>([
    [401, "permanent", REPLICATE_MESSAGES.unavailable],
    [402, "permanent", REPLICATE_MESSAGES.unavailable],
    [403, "permanent", REPLICATE_MESSAGES.unavailable],
    [404, "permanent", REPLICATE_MESSAGES.unavailable],
    [400, "permanent", REPLICATE_MESSAGES.badInput],
    [422, "permanent", REPLICATE_MESSAGES.badInput],
    [500, "transient", REPLICATE_MESSAGES.hiccup],
    [503, "transient", REPLICATE_MESSAGES.hiccup],
  ])("classifies HTTP %i on create", async (status, kind, message) => {
    emulator.faults.push({ on: "create", kind: "http", status });
    const error = await rejection(provider().submit(input, ctx()));
    expect(error).toMatchObject({ kind, message });
    expect(error.detail).toContain(`HTTP ${status}`);
    if (status === 404) expect(error.detail).toContain(MODEL);
  });

  it("rejects a wrong token as permanent, and input the model refuses as unusable", async () => {
    const wrong = await rejection(provider({ token: "r8_wrong_token" }).submit(input, ctx()));
    expect(wrong).toMatchObject({ kind: "permanent", message: REPLICATE_MESSAGES.unavailable });
    expect(wrong.detail).not.toContain("r8_wrong_token");
    const misnamed = await rejection(provider({ faceField: "source_image" }).submit(input, ctx()));
    expect(misnamed).toMatchObject({ kind: "permanent", message: REPLICATE_MESSAGES.badInput });
    expect(misnamed.detail).toContain("swap_image is required");
  });

  it("treats malformed JSON, a hang past the deadline and a refused connection as transient", async () => {
    emulator.faults.push({ on: "create", kind: "malformed" });
    expect(await rejection(provider().submit(input, ctx()))).toMatchObject({ kind: "transient" });
    emulator.faults.push({ on: "create", kind: "hang", ms: 2_000 });
    expect(await rejection(provider().submit(input, ctx(1, AbortSignal.timeout(200))))).toMatchObject({
      kind: "transient",
    });
    const closed = await startReplicateEmulator({ token: TOKEN });
    await closed.close();
    expect(await rejection(provider({}, closed).submit(input, ctx()))).toMatchObject({ kind: "transient" });
  });

  it.each<[string, string, "transient" | "permanent", string]>([
    ["NSFW", "NSFW content detected in the input image", "permanent", REPLICATE_MESSAGES.content],
    ["a safety filter", "Image blocked by the safety checker", "permanent", REPLICATE_MESSAGES.content],
    ["no face", "No face detected in the source image", "permanent", REPLICATE_MESSAGES.noFace],
    ["face not found", "Error: face not found in swap_image", "permanent", REPLICATE_MESSAGES.noFace],
    ["anything else", "CUDA out of memory", "transient", REPLICATE_MESSAGES.hiccup],
  ])("classifies a prediction failing with %s", async (_name, error, kind, message) => {
    emulator.faults.push({ on: "create", kind: "task-fails", error });
    const p = provider();
    const result = await settle(p, (await p.submit(input, ctx())).taskId);
    if (result.state !== "failed") throw new Error(`expected a failure, got ${result.state}`);
    expect(expectSafe(result.error)).toMatchObject({ kind, message });
  });

  it("reports canceled predictions as transient and unfinished ones as running", async () => {
    const p = provider();
    const { taskId } = await p.submit(input, ctx());
    const cancel = await fetch(`${emulator.url}/v1/predictions/${taskId}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(cancel.status).toBe(200);
    expect(await settle(p, taskId)).toMatchObject({ state: "failed", error: { kind: "transient" } });
    emulator.faults.push({ on: "create", kind: "never-finishes" });
    const stuck = await p.submit(input, ctx(2));
    await new Promise((resolve) => setTimeout(resolve, TASK_MS + 50));
    expect(await p.check(stuck.taskId, checkCtx())).toMatchObject({ state: "running", nextCheckInMs: 2000 });
  });

  it("handles check errors: thrown when retrying the check helps, a failed task when it cannot", async () => {
    const p = provider();
    const { taskId } = await p.submit(input, ctx());
    emulator.faults.push({ on: "get", kind: "http", status: 503 });
    expect(await rejection(p.check(taskId, checkCtx()))).toMatchObject({ kind: "transient" });
    emulator.faults.push({ on: "get", kind: "malformed" });
    expect(await rejection(p.check(taskId, checkCtx()))).toMatchObject({ kind: "transient" });
    emulator.faults.push({
      on: "get",
      kind: "http",
      status: 200,
      body: { id: taskId, status: "succeeded", output: null },
    });
    expect(await p.check(taskId, checkCtx())).toMatchObject({
      state: "failed",
      error: { kind: "permanent", message: REPLICATE_MESSAGES.noImage },
    });
    // Not a failed task (which would start a new paid attempt): a missing one, checked again first.
    const missing = await rejection(p.check("unknown-prediction", checkCtx()));
    expect([missing.kind, missing.taskMissing]).toEqual(["transient", true]);
  });

  it("serves expired output files as 404, like Replicate after an hour", async () => {
    const p = provider();
    const result = await settle(p, (await p.submit(input, ctx())).taskId);
    if (result.state !== "succeeded" || !("url" in result.output.image))
      throw new Error(JSON.stringify(result));
    emulator.faults.push({ on: "file", kind: "expired" } satisfies ReplicateFault);
    expect((await fetch(result.output.image.url)).status).toBe(404);
    expect((await fetch(result.output.image.url)).status).toBe(200);
  });

  it("tells the operator in one log line which setting a create's 404 points at", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      // The base with /v1 handed to the adapter as is: every request goes to /v1/v1/….
      const error = await provider({ baseUrl: `${emulator.url}/v1` })
        .submit(input, ctx())
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: "permanent", message: REPLICATE_MESSAGES.unavailable });
      const lines = log.mock.calls
        .map(([line]) => String(line))
        .filter((line) => line.includes("config.suspect"));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
        setting: "REPLICATE_API_BASE_URL or REPLICATE_FACESWAP_MODEL",
        REPLICATE_API_BASE_URL: `${emulator.url}/v1`,
        answered: expect.stringContaining("/v1/v1/"),
      });
      expect(lines[0]).toContain("404");
      expect(lines[0]).not.toContain(TOKEN);
    } finally {
      log.mockRestore();
    }
  });

  it("names the missing setting and rejects a malformed model reference", () => {
    expect(() => provider({ token: "" })).toThrow("REPLICATE_API_TOKEN is not set");
    expect(() => provider({ model: "a/b/c" })).toThrow("REPLICATE_FACESWAP_MODEL");
  });
});

describe("create outcomes", () => {
  const submitted = (options: Partial<ReplicateFaceSwapProviderOptions> = {}, on = emulator) =>
    rejection(provider(options, on).submit(input, ctx()));

  it.each([400, 401, 402, 403, 404, 422, 429])("calls HTTP %i on create not_created", async (status) => {
    emulator.faults.push({ on: "create", kind: "http", status });
    expect((await submitted()).outcome).toBe("not_created");
    expect(emulator.createRequests()).toHaveLength(0);
  });

  it("passes an absurd Retry-After on as it came (the engine clamps it), with not_created", async () => {
    emulator.faults.push({ on: "create", kind: "http", status: 429, headers: { "retry-after": "86400" } });
    expect(await submitted()).toMatchObject({
      kind: "transient",
      outcome: "not_created",
      retryAfterMs: 86_400_000,
    });
  });

  it("calls a refused connection not_created", async () => {
    const closed = await startReplicateEmulator({ token: TOKEN });
    await closed.close();
    expect(await submitted({}, closed)).toMatchObject({ kind: "transient", outcome: "not_created" });
  });

  it("calls a 5xx, a malformed answer, a reset and a late answer unknown, and the prediction exists", async () => {
    emulator.faults.push({ on: "create", kind: "http", status: 503 });
    expect((await submitted()).outcome).toBe("unknown");
    emulator.faults.push({ on: "create", kind: "malformed" });
    expect((await submitted()).outcome).toBe("unknown");
    emulator.faults.push({ on: "create", kind: "reset" });
    expect((await submitted()).outcome).toBe("unknown");
    emulator.faults.push({ on: "create", kind: "late" });
    expect(await submitted({ createTimeoutMs: 300 })).toMatchObject({
      kind: "transient",
      outcome: "unknown",
    });
    // The reset and the late answer were each a prediction Replicate made (and would bill).
    expect(emulator.createRequests()).toHaveLength(2);
  });

  it("sends each request once, though Replicate's own client would repeat it", async () => {
    // The `replicate` package retries 429, 5xx and network errors by itself; the pipeline owns retries.
    emulator.faults.push({ on: "create", kind: "reset" });
    expect((await submitted()).outcome).toBe("unknown");
    expect(emulator.createRequests()).toHaveLength(1);
    const p = provider();
    const { taskId } = await p.submit(input, ctx());
    const checks = emulator.checks;
    emulator.faults.push({ on: "get", kind: "http", status: 503 });
    expect(await rejection(p.check(taskId, checkCtx()))).toMatchObject({
      kind: "transient",
      httpStatus: 503,
    });
    expect(emulator.checks - checks).toBe(0);
    emulator.faults.push({ on: "get", kind: "reset" });
    expect(await rejection(p.check(taskId, checkCtx()))).toMatchObject({ kind: "transient" });
    expect(emulator.checks - checks).toBe(1);
  });

  it("gives creates their own, longer timeout than checks", async () => {
    const p = provider({ timeoutMs: 150, createTimeoutMs: 3_000 });
    emulator.faults.push({ on: "create", kind: "late", ms: 500 });
    const { taskId } = await p.submit(input, ctx());
    emulator.faults.push({ on: "get", kind: "late", ms: 500 });
    expect(await rejection(p.check(taskId, checkCtx()))).toMatchObject({ kind: "transient" });
  });
});

describe("findTask", () => {
  // On 127.0.0.1 (the photo server answers the emulator's deliveries): tests reach no other host.
  const hook = () => `${photosUrl}/api/generation/callback/replicate?jobId=job-1`;
  const since = () => Date.now() - 1_000;
  const find = (p: TaskProvider<FaceSwapInput, ImageResult>, key: string, from: number) =>
    p.findTask?.(key, { signal: AbortSignal.timeout(5_000), since: from }) ?? Promise.resolve(null);
  const loseCreate = async (p: TaskProvider<FaceSwapInput, ImageResult>, on: ReplicateEmulator) => {
    on.faults.push({ on: "create", kind: "late" });
    const lost = await rejection(p.submit(input, ctx(1, AbortSignal.timeout(300))));
    expect(lost.outcome).toBe("unknown");
  };

  it("without a webhook: null only when nothing was created since the submit, else cannot tell", async () => {
    const p = provider();
    emulator.seedPredictions(30, { ageMs: 60 * 60_000 });
    expect(await find(p, "job-1-faceswap-1", since())).toBeNull();
    const from = since();
    await loseCreate(p, emulator);
    const error = await rejection(find(p, "job-1-faceswap-1", from));
    expect(error.detail).toContain("carried no webhook");
  });

  it("with a webhook Replicate shows: finds the lost create on a later page", async () => {
    const showing = await startReplicateEmulator({
      token: TOKEN,
      taskDurationMs: TASK_MS,
      showsWebhook: true,
    });
    try {
      const p = provider({ webhookUrl: hook }, showing);
      const from = since();
      await loseCreate(p, showing);
      // 250 newer predictions of other jobs put ours on the third page of 100.
      showing.seedPredictions(250, { ageMs: -5_000, webhook: `${hook()}&idempotency_key=job-2-faceswap-1` });
      const found = await find(p, "job-1-faceswap-1", from);
      expect(showing.listRequests).toBe(3);
      expect(showing.createRequests()).toHaveLength(1);
      expect(found).toEqual({ taskId: expect.stringMatching(/^[0-9a-f]{26}$/) });
      expect((await settle(p, found?.taskId ?? "")).state).toBe("succeeded");
      // Every prediction since shows its webhook and none is this key's: authoritatively absent.
      expect(await find(p, "job-1-faceswap-2", from)).toBeNull();
    } finally {
      await showing.close();
    }
  });

  it("with a webhook Replicate does not show (as documented): cannot tell once anything exists", async () => {
    const p = provider({ webhookUrl: hook });
    const from = since();
    expect(await find(p, "job-1-faceswap-1", from)).toBeNull();
    await loseCreate(p, emulator);
    const error = await rejection(find(p, "job-1-faceswap-1", from));
    expect(error.detail).toContain("show no webhook");
  });

  it("throws when the list fails or is not a list", async () => {
    emulator.faults.push({ on: "list", kind: "http", status: 500 });
    await rejection(find(provider(), "job-1-faceswap-1", 0));
    emulator.faults.push({ on: "list", kind: "malformed" });
    await rejection(find(provider(), "job-1-faceswap-1", 0));
  });
});

describe("cancel", () => {
  it("cancels a running prediction, counted by the emulator, and ignores one Replicate no longer has", async () => {
    const p = provider();
    emulator.faults.push({ on: "create", kind: "never-finishes" });
    const { taskId } = await p.submit(input, ctx());
    await p.cancel?.(taskId, checkCtx());
    expect(emulator.cancels()).toEqual([taskId]);
    expect(await p.check(taskId, checkCtx())).toMatchObject({
      state: "failed",
      error: { kind: "transient" },
    });
    await p.cancel?.("gone-prediction", checkCtx());
    emulator.faults.push({ on: "cancel", kind: "http", status: 500 });
    expect(await rejection(p.cancel?.(taskId, checkCtx()) ?? Promise.resolve())).toMatchObject({
      kind: "transient",
    });
  });
});
