import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createOpenAIAdviceProvider,
  createOpenAIResponseKeyReader,
  type OpenAIAdviceProviderOptions,
} from "@/lib/providers/openai";
import { OPENAI_MESSAGES } from "@/lib/providers/openai/errors";
import {
  type Advice,
  type AdviceInput,
  type CheckResult,
  ProviderError,
  type TaskProvider,
} from "@/lib/providers/types";
import { type OpenAIEmulator, type OpenAIFault, startOpenAIEmulator } from "@/tests/emulators/openai";
import { garmentPhoto, personPhoto } from "@/tests/support/images";

const KEY = "test-openai-key";
const TASK_MS = 200;
const JOB = "3f0c5d1e-2b7a-4c9d-8e6f-1a2b3c4d5e6f";

let emulator: OpenAIEmulator;
let input: AdviceInput;

beforeAll(async () => {
  emulator = await startOpenAIEmulator({ apiKey: KEY, taskDurationMs: TASK_MS });
  const [person, garment] = await Promise.all([personPhoto(400, 520), garmentPhoto("#1f4e9c", 400)]);
  const garmentJpeg = await sharp(garment).jpeg().toBuffer();
  input = {
    occasion: "Summer wedding guest",
    person: { url: async () => null, load: async () => person },
    garment: { url: async () => null, load: async () => garmentJpeg },
  };
});
afterAll(() => emulator.close());
beforeEach(() => emulator.reset());

function provider(options: Partial<OpenAIAdviceProviderOptions> = {}, target = emulator) {
  return createOpenAIAdviceProvider({
    apiKey: KEY,
    baseURL: `${target.url}/v1`,
    model: "gpt-4.1-mini",
    ...options,
  });
}

const M = OPENAI_MESSAGES;

/** An HTTP fault on create, with OpenAI's error body when a code is given. */
function httpFault(status: number, code?: string): OpenAIFault & { kind: "http" } {
  const type = code === "insufficient_quota" ? code : "invalid_request_error";
  const body = code ? { error: { message: `Error: ${code}`, type, param: null, code } } : undefined;
  return { on: "create", kind: "http", status, body };
}

const taskFails = (code: string): OpenAIFault => ({
  on: "create",
  kind: "task-fails",
  error: { code, message: `The response failed: ${code}` },
});

const incomplete = (reason: "content_filter" | "max_output_tokens"): OpenAIFault => ({
  on: "create",
  kind: "task-incomplete",
  reason,
});
const badOutput = (text: string): OpenAIFault => ({ on: "create", kind: "task-bad-output", text });

const ctx = (attempt = 1, signal = AbortSignal.timeout(10_000)) => ({
  idempotencyKey: `${JOB}-advice-${attempt}`,
  signal,
});

/** Checks until the task leaves "running", as the pipeline's polls would. */
async function settle(p: TaskProvider<AdviceInput, Advice>, taskId: string): Promise<CheckResult<Advice>> {
  for (let polls = 0; polls < 100; polls++) {
    const result = await p.check(taskId, { signal: AbortSignal.timeout(5_000) });
    if (result.state !== "running") return result;
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  throw new Error(`task ${taskId} never finished`);
}

/** The ProviderError a promise rejects with, after checking it leaks neither key nor address. */
async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => expect.fail("expected a rejection"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return expectSafe(error as ProviderError);
}

function expectSafe(error: ProviderError): ProviderError {
  for (const secret of [KEY, emulator.url, "127.0.0.1"]) expect(error.message).not.toContain(secret);
  expect(error.detail ?? "").not.toContain(KEY);
  return error;
}

async function taskFailure(fault: OpenAIFault): Promise<ProviderError> {
  emulator.faults.push(fault);
  const p = provider();
  const { taskId } = await p.submit(input, ctx());
  const result = await settle(p, taskId);
  if (result.state !== "failed") throw new Error(`expected a failed task, got ${result.state}`);
  return expectSafe(result.error);
}

describe("OpenAI advice provider against the emulator", () => {
  it("submits a background response, reports it running, then returns validated advice", async () => {
    const p = provider();
    const { taskId } = await p.submit(input, ctx());
    expect(taskId).toMatch(/^resp_/);
    expect(await p.check(taskId, { signal: AbortSignal.timeout(5_000) })).toMatchObject({ state: "running" });
    const result = await settle(p, taskId);
    if (result.state !== "succeeded") throw new Error(`expected success, got ${JSON.stringify(result)}`);
    expect(result.output.source).toBe("openai");
    expect(result.output.summary).toContain("Summer wedding guest");
    expect(result.output.pieces.length).toBeGreaterThan(0);
    expect(result.output.stylePrompt).toContain("Summer wedding guest");
    expect(emulator.creates().get(`${JOB}-advice`)).toBe(1);
    expect(emulator.createsByKey().get(`${JOB}-advice-1`)).toBe(1);
  });

  it("sends a strict json_schema request with the idempotency key, inlining photos as data URLs", async () => {
    await provider().submit(input, ctx());
    const [request] = emulator.createRequests();
    expect(request).toMatchObject({
      background: true,
      store: true,
      metadata: { idempotency_key: `${JOB}-advice-1` },
    });
    expect(request?.text.format).toMatchObject({ type: "json_schema", name: "styling_advice", strict: true });
    const images = request?.input[0]?.content.filter((part) => part.type === "input_image") ?? [];
    expect(images).toHaveLength(2);
    for (const image of images)
      expect(image).toMatchObject({
        image_url: expect.stringMatching(/^data:image\/jpeg;base64,/),
        detail: "auto",
      });
  });

  it("passes public https URLs as they are, without loading the bytes", async () => {
    const load = vi.fn(async () => Buffer.alloc(0));
    await provider().submit(
      {
        occasion: "Job interview",
        person: { url: async () => "https://blob.example.com/me.jpg", load },
        garment: { url: async () => "https://blob.example.com/shirt.jpg", load },
      },
      ctx(),
    );
    const urls = emulator
      .createRequests()[0]
      ?.input[0]?.content.flatMap((part) => (part.type === "input_image" ? [part.image_url] : []));
    expect(urls).toEqual(["https://blob.example.com/me.jpg", "https://blob.example.com/shirt.jpg"]);
    expect(load).not.toHaveBeenCalled();
  });

  it("counts one create per job step when a 429 on create is retried with the same key", async () => {
    emulator.faults.push({ on: "create", kind: "http", status: 429, headers: { "retry-after-ms": "1500" } });
    const p = provider();
    const error = await rejection(p.submit(input, ctx()));
    expect(error).toMatchObject({ kind: "transient", message: OPENAI_MESSAGES.busy, retryAfterMs: 1500 });
    const { taskId } = await p.submit(input, ctx());
    expect((await settle(p, taskId)).state).toBe("succeeded");
    expect(emulator.creates().get(`${JOB}-advice`)).toBe(1);
  });

  it("reads retry-after in seconds too", async () => {
    emulator.faults.push({ on: "create", kind: "http", status: 429, headers: { "retry-after": "2" } });
    expect(await rejection(provider().submit(input, ctx()))).toMatchObject({
      kind: "transient",
      retryAfterMs: 2000,
    });
  });

  it.each<[string, OpenAIFault & { kind: "http" }, "transient" | "permanent", string]>([
    ["429 insufficient_quota", httpFault(429, "insufficient_quota"), "permanent", M.unavailable],
    ["401", httpFault(401), "permanent", M.unavailable],
    ["403", httpFault(403), "permanent", M.unavailable],
    ["400 invalid_image", httpFault(400, "invalid_image"), "permanent", M.badImage],
    [
      "400 image_content_policy_violation",
      httpFault(400, "image_content_policy_violation"),
      "permanent",
      M.content,
    ],
    ["400 other", httpFault(400, "invalid_value"), "permanent", M.noAdvice],
    ["422", httpFault(422), "permanent", M.noAdvice],
    ["408", httpFault(408), "transient", M.hiccup],
    ["409", httpFault(409), "transient", M.hiccup],
    ["500", httpFault(500), "transient", M.hiccup],
    ["503", httpFault(503), "transient", M.hiccup],
  ])("classifies HTTP %s on create", async (_name, fault, kind, message) => {
    emulator.faults.push(fault);
    const error = await rejection(provider().submit(input, ctx()));
    expect(error).toMatchObject({ kind, message });
    expect(error.detail).toContain(`HTTP ${fault.status}`);
  });

  it("treats a wrong key as permanent without leaking it", async () => {
    const error = await rejection(provider({ apiKey: "sk-wrong-key-123" }).submit(input, ctx()));
    expect(error).toMatchObject({ kind: "permanent", message: OPENAI_MESSAGES.unavailable });
    expect(error.detail).not.toContain("sk-wrong-key-123");
  });

  it("treats malformed JSON, a hang past the deadline and a refused connection as transient", async () => {
    emulator.faults.push({ on: "create", kind: "malformed" });
    expect(await rejection(provider().submit(input, ctx()))).toMatchObject({ kind: "transient" });
    emulator.faults.push({ on: "create", kind: "hang", ms: 500 });
    const hung = await rejection(provider().submit(input, ctx(1, AbortSignal.timeout(150))));
    expect(hung).toMatchObject({ kind: "transient", message: OPENAI_MESSAGES.hiccup });
    // The emulator drops a request its client gave up on, so it cannot leak into later tests.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(emulator.createRequests()).toHaveLength(0);
    const closed = await startOpenAIEmulator({ apiKey: KEY });
    await closed.close();
    expect(await rejection(provider({}, closed).submit(input, ctx()))).toMatchObject({ kind: "transient" });
  });

  it.each<[string, OpenAIFault, "transient" | "permanent", string]>([
    ["content policy", taskFails("image_content_policy_violation"), "permanent", M.content],
    ["invalid image", taskFails("invalid_image"), "permanent", M.badImage],
    ["server error", taskFails("server_error"), "transient", M.hiccup],
    ["rate limit", taskFails("rate_limit_exceeded"), "transient", M.busy],
    ["download failure", taskFails("failed_to_download_image"), "transient", M.hiccup],
    ["incomplete: content_filter", incomplete("content_filter"), "permanent", M.content],
    ["incomplete: max_output_tokens", incomplete("max_output_tokens"), "transient", M.hiccup],
    ["a refusal", { on: "create", kind: "task-refuses" }, "permanent", M.noAdvice],
    ["output that is not JSON", badOutput("Sure! Here is"), "permanent", M.noAdvice],
    ["JSON missing a field", badOutput('{"summary":"x"}'), "permanent", M.noAdvice],
  ])("classifies a response ending in %s", async (_name, fault, kind, message) => {
    expect(await taskFailure(fault)).toMatchObject({ kind, message });
  });

  it("reports a cancelled response as a transient failure and a stuck one as running", async () => {
    const p = provider();
    const { taskId } = await p.submit(input, ctx());
    const cancel = await fetch(`${emulator.url}/v1/responses/${taskId}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(cancel.status).toBe(200);
    expect(await settle(p, taskId)).toMatchObject({ state: "failed", error: { kind: "transient" } });
    emulator.faults.push({ on: "create", kind: "never-finishes" });
    const stuck = await p.submit(input, ctx(2));
    await new Promise((resolve) => setTimeout(resolve, TASK_MS + 50));
    expect(await p.check(stuck.taskId, { signal: AbortSignal.timeout(5_000) })).toMatchObject({
      state: "running",
    });
  });

  it("throws on check errors, and reports a response OpenAI does not know as missing", async () => {
    const p = provider();
    const { taskId } = await p.submit(input, ctx());
    emulator.faults.push({ on: "get", kind: "http", status: 500 });
    const check = { signal: AbortSignal.timeout(5_000) };
    expect(await rejection(p.check(taskId, check))).toMatchObject({ kind: "transient" });
    emulator.faults.push({ on: "get", kind: "malformed" });
    expect(await rejection(p.check(taskId, check))).toMatchObject({ kind: "transient" });
    emulator.faults.push({ on: "get", kind: "http", status: 401 });
    expect(await rejection(p.check(taskId, check))).toMatchObject({ kind: "permanent" });
    // Not a failed task (which would start a new paid attempt): a missing one, checked again first.
    const missing = await rejection(p.check("resp_unknown", check));
    expect([missing.kind, missing.taskMissing]).toEqual(["transient", true]);
  });

  it("falls back to a plain call run in the background when the server lacks background mode", async () => {
    const plain = await startOpenAIEmulator({
      apiKey: KEY,
      taskDurationMs: TASK_MS,
      supportsBackground: false,
    });
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      const runs: Promise<void>[] = [];
      const p = provider({ plainFallback: true, runInBackground: (work) => runs.push(work()) }, plain);
      const first = await p.submit(input, ctx());
      expect(first.taskId).toMatch(/^fallback-/);
      expect(await p.check(first.taskId, { signal: AbortSignal.timeout(5_000) })).toMatchObject({
        state: "running",
      });
      const second = await p.submit(input, ctx(2));
      await Promise.all(runs);
      for (const { taskId } of [first, second]) {
        const result = await p.check(taskId, { signal: AbortSignal.timeout(5_000) });
        expect(result).toMatchObject({ state: "succeeded", output: { source: "openai" } });
      }
      // The rejection was learnt once: the second submit went straight to the fallback.
      const rejections = log.mock.calls.filter(([line]) =>
        String(line).includes("openai.background_unsupported"),
      );
      expect(rejections).toHaveLength(1);
      expect(runs).toHaveLength(2);
      expect(plain.createRequests().every((request) => request.background === undefined)).toBe(true);
      // Nothing stored at OpenAI: the fallback's response id never reaches the job to be deleted.
      expect(plain.createRequests().every((request) => request.store === false)).toBe(true);
    } finally {
      log.mockRestore();
      await plain.close();
    }
  });

  it("reports an unknown fallback task (a restart, another instance) as missing, checked again", async () => {
    const error = await rejection(
      provider().check("fallback-00000000-0000-4000-8000-000000000000", {
        signal: AbortSignal.timeout(1_000),
      }),
    );
    expect(error).toMatchObject({ kind: "transient", taskMissing: true, message: OPENAI_MESSAGES.hiccup });
  });

  it("refuses a server without background mode unless the plain fallback is enabled", async () => {
    const plain = await startOpenAIEmulator({
      apiKey: KEY,
      taskDurationMs: TASK_MS,
      supportsBackground: false,
    });
    try {
      const error = await rejection(provider({}, plain).submit(input, ctx()));
      expect(error).toMatchObject({ kind: "permanent", outcome: "not_created", message: M.unavailable });
      expect(error.detail).toContain("OPENAI_PLAIN_FALLBACK");
      expect(plain.createRequests()).toHaveLength(0);
    } finally {
      await plain.close();
    }
  });

  it("names the missing setting", () => {
    expect(() => createOpenAIAdviceProvider({ apiKey: "", model: "m" })).toThrow("OPENAI_API_KEY is not set");
  });
});

describe("create outcomes", () => {
  const submitted = (options: Partial<OpenAIAdviceProviderOptions> = {}, target = emulator) =>
    rejection(provider(options, target).submit(input, ctx()));

  it.each<[string, OpenAIFault & { kind: "http" }]>([
    ["400", httpFault(400, "invalid_value")],
    ["401", httpFault(401)],
    ["403", httpFault(403)],
    ["409", httpFault(409)],
    ["422", httpFault(422)],
    ["429 rate limit", httpFault(429, "rate_limit_exceeded")],
    ["429 insufficient_quota", httpFault(429, "insufficient_quota")],
  ])("calls HTTP %s on create not_created", async (_name, fault) => {
    emulator.faults.push(fault);
    expect((await submitted()).outcome).toBe("not_created");
  });

  it("passes an absurd Retry-After on as it came (the engine clamps it), with not_created", async () => {
    emulator.faults.push({ on: "create", kind: "http", status: 429, headers: { "retry-after": "86400" } });
    expect(await submitted()).toMatchObject({ outcome: "not_created", retryAfterMs: 86_400_000 });
  });

  it("calls a refused connection not_created", async () => {
    const closed = await startOpenAIEmulator({ apiKey: KEY });
    await closed.close();
    expect(await submitted({}, closed)).toMatchObject({ kind: "transient", outcome: "not_created" });
  });

  it("calls a 5xx, a malformed answer, a reset and a late answer unknown, and the response exists", async () => {
    emulator.faults.push(httpFault(500));
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
    // The reset and the late answer each left a response OpenAI made (and bills), under the same key.
    expect(emulator.createsByKey().get(`${JOB}-advice-1`)).toBe(2);
    expect(emulator.createRequests().every((r) => r.metadata?.idempotency_key === `${JOB}-advice-1`)).toBe(
      true,
    );
  });

  it("gives creates their own, longer timeout than checks", async () => {
    const p = provider({ timeoutMs: 150, createTimeoutMs: 3_000 });
    emulator.faults.push({ on: "create", kind: "late", ms: 500 });
    const { taskId } = await p.submit(input, ctx());
    emulator.faults.push({ on: "get", kind: "late", ms: 500 });
    expect(await rejection(p.check(taskId, { signal: AbortSignal.timeout(5_000) }))).toMatchObject({
      kind: "transient",
    });
  });

  it("offers no findTask: OpenAI has no list, so a lost create comes back only through its webhook", () => {
    expect(provider().findTask).toBeUndefined();
  });
});

describe("cancel", () => {
  it("cancels a running response, counted by the emulator, and ignores one OpenAI no longer has", async () => {
    const p = provider();
    emulator.faults.push({ on: "create", kind: "never-finishes" });
    const { taskId } = await p.submit(input, ctx());
    await p.cancel?.(taskId, { signal: AbortSignal.timeout(5_000) });
    expect(emulator.cancels()).toEqual([taskId]);
    expect(await settle(p, taskId)).toMatchObject({ state: "failed", error: { kind: "transient" } });
    await p.cancel?.("resp_gone", { signal: AbortSignal.timeout(5_000) });
    emulator.faults.push({ on: "cancel", kind: "http", status: 500 });
    const failed = await rejection(
      p.cancel?.(taskId, { signal: AbortSignal.timeout(5_000) }) ?? Promise.resolve(),
    );
    expect(failed.kind).toBe("transient");
  });
});

describe("forget (issue 14: OpenAI keeps a stored response until we delete it)", () => {
  it("deletes the stored response with DELETE /v1/responses/{id}; a repeat or an unknown id is done", async () => {
    const p = provider();
    const { taskId } = await p.submit(input, ctx());
    expect(await settle(p, taskId)).toMatchObject({ state: "succeeded" });
    expect(emulator.hasResponse(taskId)).toBe(true);
    await p.forget?.(taskId, { signal: AbortSignal.timeout(5_000) });
    expect(emulator.deletes()).toEqual([taskId]);
    expect(emulator.hasResponse(taskId)).toBe(false);
    await p.forget?.(taskId, { signal: AbortSignal.timeout(5_000) });
    await p.forget?.("resp_never_there", { signal: AbortSignal.timeout(5_000) });
    // The response is gone: a check now finds nothing, as OpenAI would answer.
    const missing = await rejection(p.check(taskId, { signal: AbortSignal.timeout(5_000) }));
    expect(missing.taskMissing).toBe(true);
  });

  it("surfaces a failed delete (a 500) so the caller can try again", async () => {
    const p = provider();
    const { taskId } = await p.submit(input, ctx());
    emulator.faults.push({ on: "delete", kind: "http", status: 500 });
    const failed = await rejection(
      p.forget?.(taskId, { signal: AbortSignal.timeout(5_000) }) ?? Promise.resolve(),
    );
    expect(failed.kind).toBe("transient");
    expect(emulator.hasResponse(taskId)).toBe(true);
  });
});

describe("response keys (for the project webhook)", () => {
  it("reads the submit's key from a response, says when OpenAI does not know one, and throws the rest", async () => {
    const readKey = createOpenAIResponseKeyReader({ apiKey: KEY, baseURL: `${emulator.url}/v1` });
    const { taskId } = await provider().submit(input, ctx());
    expect(await readKey(taskId)).toEqual({ known: true, idempotencyKey: `${JOB}-advice-1` });
    expect(await readKey("resp_not_ours")).toEqual({ known: false });
    emulator.faults.push({ on: "get", kind: "http", status: 500 });
    expect(await rejection(readKey(taskId))).toMatchObject({ kind: "transient", httpStatus: 500 });
    const wrongKey = createOpenAIResponseKeyReader({ apiKey: "sk-wrong", baseURL: `${emulator.url}/v1` });
    const refused = await rejection(wrongKey(taskId));
    expect(refused).toMatchObject({ kind: "permanent", httpStatus: 401 });
    expect(refused.detail).not.toContain("sk-wrong");
  });
});
