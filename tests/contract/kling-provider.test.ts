import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { decodeJwt, decodeProtectedHeader } from "jose";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createKlingProviders,
  createKlingTokenSource,
  type KlingProvidersOptions,
} from "@/lib/providers/kling";
import { KLING_MESSAGES } from "@/lib/providers/kling/errors";
import {
  type CheckResult,
  type ImageInput,
  type ImageResult,
  ProviderError,
  type TaskProvider,
} from "@/lib/providers/types";
import { type KlingEmulator, startKlingEmulator } from "@/tests/emulators/kling";
import { garmentPhoto, personPhoto } from "@/tests/support/images";

const ACCESS_KEY = "test-access";
const SECRET_KEY = "test-secret";
const TASK_MS = 300;

let emulator: KlingEmulator;
/** Serves our "public" image URLs and receives Kling's callbacks, as our blob store and app would. */
let site: http.Server;
let siteUrl: string;
let person: Buffer;
let garment: Buffer;
const siteHits: string[] = [];
const callbacks: Array<{ task_status: string }> = [];
/** Every request the adapter sent, read through its injectable fetch. */
let sent: Array<{ authorization: string; body: Record<string, unknown> | null }>;

const spyFetch: typeof fetch = (input, init) => {
  const authorization = new Headers(init?.headers).get("authorization") ?? "";
  sent.push({ authorization, body: typeof init?.body === "string" ? JSON.parse(init.body) : null });
  return fetch(input, init);
};

function providers(overrides: Partial<KlingProvidersOptions> = {}) {
  return createKlingProviders({
    accessKey: ACCESS_KEY,
    secretKey: SECRET_KEY,
    baseUrl: emulator.url,
    styleModel: "kling-v1-5",
    tryonModel: "kolors-virtual-try-on-v1-5",
    fetch: spyFetch,
    ...overrides,
  });
}

const bytesOf = (bytes: Buffer): ImageInput => ({ url: async () => null, load: async () => bytes });
const urlOf = (path: string, bytes: Buffer): ImageInput => ({
  url: async () => `${siteUrl}${path}`,
  load: async () => bytes,
});
const styleInput = (prompt = "A linen suit for a garden wedding") => ({
  person: bytesOf(person),
  garment: bytesOf(garment),
  prompt,
});
const submitCtx = (idempotencyKey: string, signal = AbortSignal.timeout(5_000)) => ({
  idempotencyKey,
  signal,
});
const checkCtx = () => ({ signal: AbortSignal.timeout(5_000) });
const lastBody = () => sent.at(-1)?.body ?? {};

async function waitUntilDone<In, Out>(
  provider: TaskProvider<In, Out>,
  taskId: string,
): Promise<CheckResult<Out>> {
  for (;;) {
    const result = await provider.check(taskId, checkCtx());
    if (result.state !== "running") return result;
    await sleep(40);
  }
}

/** A person-facing message must never carry keys, tokens or our endpoints; detail never keys or tokens. */
function expectSafe(error: ProviderError): void {
  const tokens = sent.map((s) => s.authorization.replace("Bearer ", "")).filter(Boolean);
  for (const secret of [ACCESS_KEY, SECRET_KEY, emulator.url, siteUrl, "127.0.0.1", ...tokens]) {
    expect(error.message).not.toContain(secret);
  }
  for (const secret of [SECRET_KEY, ...tokens]) expect(error.detail ?? "").not.toContain(secret);
}

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => expect.fail("expected a rejection"),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ProviderError);
  expectSafe(error as ProviderError);
  return error as ProviderError;
}

function failureOf(result: CheckResult<unknown>): ProviderError {
  if (result.state !== "failed") return expect.fail(`expected a failed task, got ${result.state}`);
  expectSafe(result.error);
  return result.error;
}

async function downloadedImage(result: CheckResult<ImageResult>) {
  if (result.state !== "succeeded" || !("url" in result.output.image)) return expect.fail("expected a URL");
  const response = await fetch(result.output.image.url);
  expect(response.headers.get("content-type")).toBe("image/png");
  return sharp(Buffer.from(await response.arrayBuffer())).metadata();
}

beforeAll(async () => {
  [person, garment] = await Promise.all([personPhoto(900, 1200), garmentPhoto()]);
  emulator = await startKlingEmulator({ taskDurationMs: TASK_MS });
  site = http.createServer((req, res) => {
    siteHits.push(req.url ?? "");
    if (req.method === "POST") {
      let text = "";
      req.on("data", (chunk) => {
        text += chunk;
      });
      req.on("end", () => {
        callbacks.push(JSON.parse(text));
        res.end();
      });
      return;
    }
    res.writeHead(200).end(req.url === "/person.jpg" ? person : garment);
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await emulator?.close();
  site?.closeAllConnections();
  await new Promise((resolve) => site?.close(resolve));
});
beforeEach(() => {
  emulator.reset();
  sent = [];
  siteHits.length = 0;
  callbacks.length = 0;
});

describe("style", () => {
  it("sends raw base64 and the key, polls, and ends with a 3:4 image that downloads", async () => {
    const { style } = providers();
    const submitted = await style.submit(styleInput("elegant ".repeat(400)), submitCtx("job1-style-1"));
    expect(submitted.nextCheckInMs).toBe(3_000);
    const body = lastBody();
    expect(body).toMatchObject({
      model_name: "kling-v1-5",
      image: person.toString("base64"),
      image_reference: "subject",
      aspect_ratio: "3:4",
      n: 1,
      external_task_id: "job1-style-1",
    });
    expect(String(body.image).startsWith("data:")).toBe(false);
    expect(String(body.prompt)).toHaveLength(2_500);
    expect(body).not.toHaveProperty("negative_prompt");
    expect(body).not.toHaveProperty("callback_url");

    expect(await style.check(submitted.taskId, checkCtx())).toEqual({
      state: "running",
      nextCheckInMs: 3_000,
    });
    const meta = await downloadedImage(await waitUntilDone(style, submitted.taskId));
    expect([meta.width, meta.height]).toEqual([768, 1024]);
    expect(emulator.checks).toBeGreaterThanOrEqual(2);
  });

  it("sends the public URL when there is one, and a callback_url when configured", async () => {
    const { style } = providers({ callbackUrl: (key) => `${siteUrl}/callbacks/${key}` });
    const input = { ...styleInput(), person: urlOf("/person.jpg", person) };
    const { taskId } = await style.submit(input, submitCtx("job2-style-1"));
    expect(lastBody()).toMatchObject({
      image: `${siteUrl}/person.jpg`,
      callback_url: `${siteUrl}/callbacks/job2-style-1`,
    });
    expect(siteHits).toContain("/person.jpg");
    expect((await waitUntilDone(style, taskId)).state).toBe("succeeded");
    await expect.poll(() => callbacks.map((c) => c.task_status)).toEqual(["processing", "succeed"]);
  });
});

describe("try-on", () => {
  it("puts the garment on the styled image and returns its URL", async () => {
    const { tryon } = providers();
    const input = { styled: bytesOf(person), garment: urlOf("/garment.png", garment) };
    const submitted = await tryon.submit(input, submitCtx("job3-tryon-1"));
    expect(submitted.nextCheckInMs).toBe(5_000);
    expect(lastBody()).toEqual({
      model_name: "kolors-virtual-try-on-v1-5",
      human_image: person.toString("base64"),
      cloth_image: `${siteUrl}/garment.png`,
      external_task_id: "job3-tryon-1",
    });
    const meta = await downloadedImage(await waitUntilDone(tryon, submitted.taskId));
    expect([meta.width, meta.height]).toEqual([900, 1200]);
  });
});

describe("auth", () => {
  it("signs an HS256 JWT the emulator accepts and reuses it across calls", async () => {
    const { style } = providers();
    const { taskId } = await style.submit(styleInput(), submitCtx("job4-style-1"));
    await style.check(taskId, checkCtx());
    const [first, second] = sent.map((s) => s.authorization.replace("Bearer ", ""));
    expect(first).toBeTruthy();
    expect(second).toBe(first);
    expect(decodeProtectedHeader(first ?? "")).toEqual({ alg: "HS256", typ: "JWT" });
    const claims = decodeJwt(first ?? "");
    expect(claims.iss).toBe(ACCESS_KEY);
    // nbf a minute in the past (a host clock up to a minute fast still passes), exp as documented.
    const issuedAt = Math.floor(Date.now() / 1_000);
    expect(claims.nbf).toBeGreaterThanOrEqual(issuedAt - 62);
    expect(claims.nbf).toBeLessThanOrEqual(issuedAt - 58);
    expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBe(1_860);
  });

  it("names the missing setting when a key or the base URL is empty", () => {
    expect(() => providers({ accessKey: "" })).toThrow("KLING_ACCESS_KEY is not set");
    expect(() => providers({ secretKey: "" })).toThrow("KLING_SECRET_KEY is not set");
    expect(() => providers({ baseUrl: "" })).toThrow("KLING_API_BASE_URL is not set");
  });

  it("reports a wrong secret as a permanent outage, with the reason only in the detail", async () => {
    const { style } = providers({ secretKey: "not-the-secret" });
    const error = await rejection(style.submit(styleInput(), submitCtx("job5-style-1")));
    expect(error.kind).toBe("permanent");
    expect(error.message).toBe("The image service is unavailable right now.");
    expect(error.detail).toMatch(/code 1001 \(auth failed\).*request_id [\w-]+/);
  });

  it("keeps a token while it has more than 5 minutes left, then signs a new one", async () => {
    let clock = Date.UTC(2026, 10, 27, 10);
    const tokens = createKlingTokenSource({ accessKey: ACCESS_KEY, secretKey: SECRET_KEY, now: () => clock });
    const first = await tokens.token();
    clock += 24 * 60_000;
    expect(await tokens.token()).toBe(first);
    clock += 2 * 60_000;
    const renewed = await tokens.token();
    expect(renewed).not.toBe(first);
    expect(decodeJwt(renewed).exp).toBe(Math.floor(clock / 1_000) + 1_800);
    tokens.invalidate();
    clock += 1_000;
    expect(await tokens.token()).not.toBe(renewed);
  });
});

const { unavailable, badInput, contentPolicy, generic } = KLING_MESSAGES;
const PERMANENT_CASES: Array<[code: number, status: number, sentence: string]> = [
  ...[1000, 1001, 1002].map((code): [number, number, string] => [code, 401, unavailable]),
  [1100, 429, unavailable],
  [1101, 429, unavailable],
  [1102, 429, unavailable],
  [1103, 403, unavailable],
  [1200, 400, badInput],
  [1201, 400, badInput],
  [1202, 405, generic],
  [1203, 404, badInput],
  [1300, 400, contentPolicy],
  [1301, 400, contentPolicy],
];
const TRANSIENT_CASES: Array<[code: number, status: number]> = [
  [1302, 429],
  [1303, 429],
  [5000, 500],
  [5001, 503],
  [5002, 504],
];

describe("errors", () => {
  it.each(PERMANENT_CASES)("code %i (HTTP %i) is permanent: %s", async (code, status, sentence) => {
    emulator.faults.push({ on: "create", kind: "http", status, code, message: `vendor words ${code}` });
    const error = await rejection(providers().style.submit(styleInput(), submitCtx("job6-style-1")));
    expect([error.kind, error.message]).toEqual(["permanent", sentence]);
    expect(error.detail).toMatch(
      new RegExp(`HTTP ${status}, code ${code} .*vendor words.*request_id [\\w-]+`),
    );
    expect(error.message).not.toContain("vendor words");
  });

  it.each(TRANSIENT_CASES)("code %i (HTTP %i) is transient, retried after ≥ 1 s", async (code, status) => {
    emulator.faults.push({ on: "create", kind: "http", status, code });
    const error = await rejection(providers().style.submit(styleInput(), submitCtx("job7-style-1")));
    expect(error.kind).toBe("transient");
    expect(error.retryAfterMs).toBe(1_000);
  });

  it("honours Retry-After on a check", async () => {
    const { style } = providers();
    const { taskId } = await style.submit(styleInput(), submitCtx("job8-style-1"));
    emulator.faults.push({ on: "query", kind: "http", status: 429, code: 1302, retryAfterSeconds: 7 });
    const error = await rejection(style.check(taskId, checkCtx()));
    expect([error.kind, error.retryAfterMs]).toEqual(["transient", 7_000]);
  });

  it("treats malformed JSON as transient, on submit and on check", async () => {
    const { tryon } = providers();
    const input = { styled: bytesOf(person), garment: bytesOf(garment) };
    emulator.faults.push({ on: "create", kind: "malformed" });
    const onSubmit = await rejection(tryon.submit(input, submitCtx("job9-tryon-1")));
    expect([onSubmit.kind, onSubmit.message]).toEqual(["transient", KLING_MESSAGES.unreadable]);
    const { taskId } = await tryon.submit(input, submitCtx("job9-tryon-2"));
    emulator.faults.push({ on: "query", kind: "malformed" });
    expect((await rejection(tryon.check(taskId, checkCtx()))).kind).toBe("transient");
  });

  it("turns an answer slower than the caller's signal into a transient timeout", async () => {
    const { style } = providers();
    const { taskId } = await style.submit(styleInput(), submitCtx("job10-style-1"));
    emulator.faults.push({ on: "query", kind: "hang", ms: 2_000 });
    const error = await rejection(style.check(taskId, { signal: AbortSignal.timeout(150) }));
    expect([error.kind, error.message]).toEqual(["transient", KLING_MESSAGES.timeout]);
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(1_000);
  });

  it("ends a task stopped by risk control with the content-policy sentence", async () => {
    const message = "Failure to pass the risk control system";
    emulator.faults.push({ on: "create", kind: "task-fails", message });
    const { style } = providers();
    const { taskId } = await style.submit(styleInput(), submitCtx("job11-style-1"));
    const error = failureOf(await waitUntilDone(style, taskId));
    expect([error.kind, error.message]).toEqual(["permanent", contentPolicy]);
    expect(error.detail).toContain(message);
  });

  it("lets any other task failure be retried", async () => {
    emulator.faults.push({ on: "create", kind: "task-fails", message: "internal error, please retry" });
    const { tryon } = providers();
    const { taskId } = await tryon.submit(
      { styled: bytesOf(person), garment: bytesOf(garment) },
      submitCtx("job12-tryon-1"),
    );
    const error = failureOf(await waitUntilDone(tryon, taskId));
    expect([error.kind, error.message]).toEqual(["transient", KLING_MESSAGES.unfinished]);
  });

  it("keeps reporting running for a task that never finishes", async () => {
    emulator.faults.push({ on: "create", kind: "never-finishes" });
    const { style } = providers();
    const { taskId } = await style.submit(styleInput(), submitCtx("job13-style-1"));
    await sleep(TASK_MS + 100);
    expect((await style.check(taskId, checkCtx())).state).toBe("running");
  });

  it("parses loose answers (string times) and fails a succeed without an image", async () => {
    const task = {
      task_id: 42,
      task_status: "succeed",
      created_at: "1764237600000",
      task_result: { images: [] },
    };
    const answer = JSON.stringify({ code: 0, message: "SUCCEED", request_id: "r-1", data: task });
    const { style } = providers({ fetch: async () => new Response(answer, { status: 200 }) });
    const error = failureOf(await style.check("42", checkCtx()));
    expect([error.kind, error.message]).toEqual(["permanent", KLING_MESSAGES.noImage]);
  });

  it("answers 404 for an expired result URL (the app, not the adapter, downloads it)", async () => {
    const { style } = providers();
    const { taskId } = await style.submit(styleInput(), submitCtx("job14-style-1"));
    const done = await waitUntilDone(style, taskId);
    if (done.state !== "succeeded" || !("url" in done.output.image)) return expect.fail("no result URL");
    emulator.faults.push({ on: "result", kind: "expired" });
    expect((await fetch(done.output.image.url)).status).toBe(404);
    expect((await fetch(done.output.image.url)).status).toBe(200);
  });
});

describe("recovery", () => {
  it("succeeds when the same submit is retried after a rate limit", async () => {
    emulator.faults.push({ on: "create", kind: "http", status: 429, code: 1302 });
    const { style } = providers();
    expect((await rejection(style.submit(styleInput(), submitCtx("job15-style-1")))).kind).toBe("transient");
    const { taskId } = await style.submit(styleInput(), submitCtx("job15-style-1"));
    expect((await waitUntilDone(style, taskId)).state).toBe("succeeded");
    expect(emulator.createsByExternalId().get("job15-style-1")).toBe(2);
    expect(emulator.creates().get("job15-style")).toBe(2);
  });

  it("finds a task by its idempotency key, and null for an unknown key", async () => {
    const { style, tryon } = providers();
    const { taskId } = await style.submit(styleInput(), submitCtx("job16-style-1"));
    const tryonTask = await tryon.submit(
      { styled: bytesOf(person), garment: bytesOf(garment) },
      submitCtx("job16-tryon-1"),
    );
    expect(await style.findTask?.("job16-style-1", { ...checkCtx(), since: 0 })).toEqual({ taskId });
    expect(await tryon.findTask?.("job16-tryon-1", { ...checkCtx(), since: 0 })).toEqual({
      taskId: tryonTask.taskId,
    });
    expect(await style.findTask?.("job16-tryon-1", { ...checkCtx(), since: 0 })).toBeNull();
    expect(await style.findTask?.("no-such-job-style-1", { ...checkCtx(), since: 0 })).toBeNull();
    // A list that cannot be read is "cannot tell", never "not there".
    emulator.faults.push({ on: "list", kind: "http", status: 404, code: 1203 });
    await rejection(style.findTask?.("job16-style-1", { ...checkCtx(), since: 0 }) ?? Promise.resolve());
  });

  it("adopts the task of a submit whose answer was lost instead of creating another", async () => {
    emulator.faults.push({ on: "create", kind: "hang", ms: 1_500 });
    const { style } = providers();
    const lost = await rejection(
      style.submit(styleInput(), submitCtx("job17-style-1", AbortSignal.timeout(600))),
    );
    expect([lost.kind, lost.outcome]).toEqual(["transient", "unknown"]);
    const found = await style.findTask?.("job17-style-1", { ...checkCtx(), since: 0 });
    expect(found).toBeTruthy();
    const retried = await style.submit(styleInput(), submitCtx("job17-style-1"));
    expect(retried.taskId).toBe(found?.taskId);
  });
});

describe("create outcomes", () => {
  const submitStyle = (key: string, overrides: Partial<KlingProvidersOptions> = {}) =>
    rejection(providers(overrides).style.submit(styleInput(), submitCtx(key)));

  it("calls a refusal not_created: 4xx codes, auth, a 429 with any Retry-After, a refused connection", async () => {
    emulator.faults.push({ on: "create", kind: "http", status: 400, code: 1200 });
    expect((await submitStyle("job20-style-1")).outcome).toBe("not_created");
    emulator.faults.push({ on: "create", kind: "http", status: 429, code: 1303 });
    expect((await submitStyle("job20-style-1")).outcome).toBe("not_created");
    emulator.faults.push({ on: "create", kind: "http", status: 429, code: 1302, retryAfterSeconds: 86_400 });
    const throttled = await submitStyle("job20-style-1");
    // The vendor's figure as it came: the engine clamps it to the step's largest backoff.
    expect([throttled.kind, throttled.outcome, throttled.retryAfterMs]).toEqual([
      "transient",
      "not_created",
      86_400_000,
    ]);
    expect((await submitStyle("job20-style-1", { secretKey: "wrong" })).outcome).toBe("not_created");
    const closed = await startKlingEmulator();
    await closed.close();
    const refused = await submitStyle("job20-style-1", { baseUrl: closed.url });
    expect([refused.kind, refused.outcome]).toEqual(["transient", "not_created"]);
    // The emulator counts creates that passed auth: the wrong key's never did.
    expect(emulator.createsByExternalId().get("job20-style-1")).toBe(3);
  });

  it("calls a 5xx, a malformed answer, a reset and a late answer unknown: the task may exist", async () => {
    emulator.faults.push({ on: "create", kind: "http", status: 500, code: 5000 });
    expect((await submitStyle("job21-style-1")).outcome).toBe("unknown");
    emulator.faults.push({ on: "create", kind: "malformed" });
    expect((await submitStyle("job21-style-2")).outcome).toBe("unknown");
    emulator.faults.push({ on: "create", kind: "reset" });
    expect((await submitStyle("job21-style-3")).outcome).toBe("unknown");
    emulator.faults.push({ on: "create", kind: "late" });
    const late = await submitStyle("job21-style-4", { createTimeoutMs: 300 });
    expect([late.kind, late.message, late.outcome]).toEqual(["transient", KLING_MESSAGES.timeout, "unknown"]);
    // Each of the three that got that far did create its task.
    const { style } = providers();
    for (const key of ["job21-style-2", "job21-style-3", "job21-style-4"]) {
      expect(await style.findTask?.(key, { ...checkCtx(), since: Date.now() - 60_000 })).toBeTruthy();
    }
  });

  it("gives creates their own, longer timeout than checks", async () => {
    const { style } = providers({ timeoutMs: 150, createTimeoutMs: 3_000 });
    emulator.faults.push({ on: "create", kind: "late", ms: 500 });
    const { taskId } = await style.submit(styleInput(), submitCtx("job22-style-1"));
    emulator.faults.push({ on: "query", kind: "late", ms: 500 });
    const check = await rejection(style.check(taskId, checkCtx()));
    expect([check.kind, check.message]).toEqual(["transient", KLING_MESSAGES.timeout]);
  });
});

describe("lookups by external_task_id", () => {
  const find = (key: string, since: number) =>
    providers().style.findTask?.(key, { ...checkCtx(), since }) ?? Promise.resolve(null);

  it("finds a lost create's task on a later page of the list", async () => {
    const since = Date.now();
    emulator.faults.push({ on: "create", kind: "late" });
    const lost = await rejection(
      providers({ createTimeoutMs: 300 }).style.submit(styleInput(), submitCtx("job23-style-1")),
    );
    expect(lost.outcome).toBe("unknown");
    // 700 tasks made after it by other jobs push it onto the second page of 500.
    emulator.seedTasks("generations", 700);
    const before = emulator.listRequests;
    const found = await find("job23-style-1", since);
    expect(found?.taskId).toMatch(/[\w-]{8,}/);
    expect(emulator.listRequests - before).toBe(2);
    expect((await waitUntilDone(providers().style, found?.taskId ?? "")).state).toBe("succeeded");
  });

  it("answers null once a whole page lies before the submit, or the list ends", async () => {
    emulator.seedTasks("generations", 1_200, { ageMs: 60 * 60_000 });
    expect(await find("job24-style-1", Date.now())).toBeNull();
    expect(emulator.listRequests).toBe(1);
    emulator.reset();
    emulator.seedTasks("generations", 3);
    expect(await find("job24-style-1", 0)).toBeNull();
    expect(emulator.listRequests).toBe(1);
  });

  it("throws when it cannot tell: a failing list, a page that is not a list, too many pages", async () => {
    emulator.faults.push({ on: "list", kind: "http", status: 500, code: 5000 });
    expect((await rejection(find("job25-style-1", 0))).kind).toBe("transient");
    emulator.faults.push({ on: "list", kind: "malformed" });
    expect((await rejection(find("job25-style-1", 0))).kind).toBe("transient");
    // Every task younger than the submit and the key nowhere in 20 pages: not "absent", "unknown".
    emulator.seedTasks("generations", 10_001);
    const exhausted = await rejection(find("job25-style-1", Date.now() - 60_000));
    expect(exhausted.detail).toContain("20 pages");
  });

  it("adopts the task behind a 1201 by code and lookup, whatever its wording", async () => {
    const { style } = providers();
    const { taskId } = await style.submit(styleInput(), submitCtx("job26-style-1"));
    emulator.faults.push({ on: "create", kind: "http", status: 400, code: 1201, message: "参数错误" });
    expect((await style.submit(styleInput(), submitCtx("job26-style-1"))).taskId).toBe(taskId);
    // A 1201 that names external_task_id but whose key nobody holds is the bad request it says it is.
    const words = "external_task_id already exists";
    emulator.faults.push({ on: "create", kind: "http", status: 400, code: 1201, message: words });
    const refused = await rejection(style.submit(styleInput(), submitCtx("job26-style-2")));
    expect([refused.kind, refused.message, refused.outcome]).toEqual([
      "permanent",
      KLING_MESSAGES.badInput,
      "not_created",
    ]);
    expect(emulator.creates().get("job26-style")).toBe(3);
  });
});

describe("clock skew", () => {
  const klingLines = (log: { mock: { calls: unknown[][] } }) =>
    log.mock.calls.map(([line]) => String(line)).filter((line) => line.includes("kling.clock_skew"));

  it("retries a 1003 once with a token signed by Kling's clock, and logs the skew", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      // Our clock two minutes fast: nbf = our now - 60 s is still a minute ahead of Kling.
      emulator.clockOffsetMs = -120_000;
      const { style } = providers();
      const { taskId } = await style.submit(styleInput(), submitCtx("job27-style-1"));
      expect(emulator.clockRejections).toBe(1);
      const [rejected, accepted] = sent.map((s) => s.authorization);
      expect(accepted).not.toBe(rejected);
      // The refused create never passed auth; the retry made the one task.
      expect(emulator.createsByExternalId().get("job27-style-1")).toBe(1);
      expect((await waitUntilDone(style, taskId)).state).toBe("succeeded");
      // Later calls keep Kling's clock: no further rejection.
      expect(emulator.clockRejections).toBe(1);
      const lines = klingLines(log);
      expect(lines).toHaveLength(1);
      const skewMs = JSON.parse(lines[0] ?? "{}").skewMs as number;
      expect(Math.abs(skewMs - 120_000)).toBeLessThan(2_000);
    } finally {
      log.mockRestore();
    }
  });

  it("retries a 1004 from a slow clock the same way, and accepts a clock 30 s fast outright", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      emulator.clockOffsetMs = 40 * 60_000;
      await providers().style.submit(styleInput(), submitCtx("job28-style-1"));
      expect(emulator.clockRejections).toBe(1);
      emulator.reset();
      emulator.clockOffsetMs = -30_000;
      await providers().style.submit(styleInput(), submitCtx("job28-style-2"));
      expect(emulator.clockRejections).toBe(0);
      expect(klingLines(log).length).toBeGreaterThanOrEqual(2);
    } finally {
      log.mockRestore();
    }
  });

  it("gives up after one retry: a second 1003 is permanent; 1000-1002 are never retried", async () => {
    emulator.faults.push({ on: "create", kind: "http", status: 401, code: 1003, times: 2 });
    const twice = await rejection(providers().style.submit(styleInput(), submitCtx("job29-style-1")));
    expect([twice.kind, twice.message, twice.outcome]).toEqual([
      "permanent",
      KLING_MESSAGES.unavailable,
      "not_created",
    ]);
    expect(twice.detail).toContain("our clock minus Kling's");
    expect(emulator.createsByExternalId().get("job29-style-1")).toBe(2);
    emulator.faults.push({ on: "create", kind: "http", status: 401, code: 1002, times: 2 });
    await rejection(providers().style.submit(styleInput(), submitCtx("job29-style-2")));
    expect(emulator.createsByExternalId().get("job29-style-2")).toBe(1);
  });
});

describe("checks", () => {
  it("reports a task Kling does not know as missing (checked again), not as a failed task", async () => {
    const error = await rejection(providers().style.check("no-such-task", checkCtx()));
    expect([error.kind, error.taskMissing]).toEqual(["transient", true]);
  });

  it("has no cancel: Kling documents no API for it", () => {
    expect(providers().style.cancel).toBeUndefined();
  });
});
