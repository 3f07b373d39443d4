import { createHmac, randomUUID } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isTerminal, type StoredJob } from "@/lib/jobs/job";
import { jobCodec } from "@/lib/jobs/job-store";
import { createSqliteStore } from "@/lib/store/sqlite";
import { newWebhookSecret, signWebhook } from "@/tests/emulators/standard-webhooks";
import { type AppServer, freePort, startApp } from "@/tests/support/app-server";
import { startVendorEmulators, type VendorEmulators } from "@/tests/support/emulators";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { startJobOver } from "@/tests/support/poll";
import { jobEventsOf, readJobEvents } from "@/tests/support/sse";

/**
 * Provider callbacks against the built app and the vendor emulators. Nothing here polls the status
 * route (it would advance the job itself) and no cron runs: jobs move only when a callback nudges.
 */

const TASK_MS = 1_200;
const CALLBACK_SECRET = "integration-callback-secret-0123456789";
const REPLICATE_SECRET = newWebhookSecret();
const OPENAI_SECRET = newWebhookSecret();
const FORGED_SECRET = newWebhookSecret();
const JSON_HEADERS = { "content-type": "application/json" };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);
/** A callback URL's query as the app signs it (the documented format, written apart from the app's). */
function callbackQuery(vendor: string, jobId: string, step: string, secret = CALLBACK_SECRET): string {
  const expires = nowSeconds() + 3600;
  const token = createHmac("sha256", secret)
    .update(`callback.v1\n${vendor}\n${jobId}\n${step}\n${expires}`)
    .digest("base64url");
  return new URLSearchParams({ jobId, step, expires: String(expires), token }).toString();
}

let vendors: VendorEmulators;
let app: AppServer;
let appUrl: string;
let completedJobId: string;

beforeAll(async () => {
  const port = await freePort();
  appUrl = `http://127.0.0.1:${port}`;
  vendors = await startVendorEmulators(
    TASK_MS,
    {},
    {
      openai: { url: `${appUrl}/api/generation/callback/openai`, secret: OPENAI_SECRET },
      replicateSecret: REPLICATE_SECRET,
    },
  );
  app = await startApp(
    {
      ...vendors.env,
      PUBLIC_BASE_URL: appUrl,
      CALLBACK_SECRET,
      REPLICATE_WEBHOOK_SECRET: REPLICATE_SECRET,
      OPENAI_WEBHOOK_SECRET: OPENAI_SECRET,
    },
    undefined,
    port,
  );
});

afterAll(async () => {
  await app?.stop();
  await vendors?.close();
});

/** The job straight from the app's store: a status poll would advance it. */
async function readJob(jobId: string): Promise<StoredJob> {
  const store = createSqliteStore({
    codec: jobCodec,
    file: path.join(app.dataDir, "jobs.db"),
    ttlSeconds: 3600,
  });
  try {
    const job = await store.get(jobId);
    if (!job) throw new Error(`job ${jobId} is not in the store`);
    return job;
  } finally {
    await store.close();
  }
}

async function eventually<T>(read: () => Promise<T> | T, ok: (value: T) => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`still ${JSON.stringify(value)?.slice(0, 300)} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function startJob(occasion: string): Promise<string> {
  const form = startForm({ person: await personPhoto(), garment: await garmentPhoto(), occasion });
  return startJobOver(app.url, form);
}

/** Waits until a job sits on `status` with its task submitted and the nudges about it are over. */
async function parkedAt(jobId: string, status: StoredJob["status"]): Promise<StoredJob> {
  await eventually(
    () => readJob(jobId),
    (job) => job.status === status && job.current?.taskId != null,
  );
  await sleep(Math.max(600, TASK_MS / 2));
  return readJob(jobId);
}

const post = (route: string, headers: Record<string, string>, body: string) =>
  fetch(`${app.url}/api/generation/callback/${route}`, { method: "POST", headers, body });

async function answer(response: Response) {
  return { status: response.status, body: await response.json() };
}

const nudgesLogged = (source: string, jobId: string) =>
  app.output.filter(
    (line) =>
      line.includes('"callback.nudged"') && line.includes(`"source":"${source}"`) && line.includes(jobId),
  ).length;

describe("a job driven by provider callbacks alone", () => {
  it("completes with no status poll and no sweep", async () => {
    const jobId = await startJob("Callbacks only");
    completedJobId = jobId;
    const job = await eventually(
      () => readJob(jobId),
      (j) => isTerminal(j.status),
      60_000,
    );
    expect(job.status).toBe("completed");
    expect(job.artifacts.final).toBeDefined();

    // Each vendor's callback moved its own step: OpenAI (advice), Kling (style, try-on), Replicate.
    expect(nudgesLogged("openai", jobId)).toBeGreaterThanOrEqual(1);
    expect(nudgesLogged("kling", jobId)).toBeGreaterThanOrEqual(2);
    expect(nudgesLogged("replicate", jobId)).toBe(1);
    const deliveries = await eventually(
      () => [...vendors.openai.webhookDeliveries(), ...vendors.replicate.webhookDeliveries()],
      (list) => list.length === 2,
    );
    expect(deliveries.map((d) => d.status)).toEqual([200, 200]);
    // The webhook URL names the job and step under a token of CALLBACK_SECRET's.
    const webhook = new URL(String(vendors.replicate.createRequests()[0]?.body.webhook));
    expect(webhook.origin + webhook.pathname).toBe(`${appUrl}/api/generation/callback/replicate`);
    expect(Object.fromEntries(webhook.searchParams)).toEqual({
      jobId,
      step: "faceswap",
      expires: expect.stringMatching(/^\d+$/),
      token: expect.stringMatching(/^[\w-]{43}$/),
      idempotency_key: `${jobId}-faceswap-1`,
    });
  });
});

describe("a job watched on its event stream", () => {
  it("is woken by each verified callback on this instance: the callback routes ring the stream's bell", async () => {
    const jobId = await startJob("Streamed with callbacks");
    const read = await readJobEvents(app.url, jobId, { timeoutMs: 60_000 });
    expect(jobEventsOf(read).at(-1)?.job.status).toBe("completed");
    const closed = await eventually(
      () => app.output.find((line) => line.includes('"stream.closed"') && line.includes(jobId)),
      (line) => line !== undefined,
    );
    // Only a callback's nudge rings this job's bell here (the one stream has no sibling to ring it).
    expect(JSON.parse(closed ?? "{}").bells).toBeGreaterThanOrEqual(1);
    expect(nudgesLogged("kling", jobId)).toBeGreaterThanOrEqual(1);
  });
});

describe("Kling callbacks", () => {
  it("are refused without the job's token, and then advance nothing", async () => {
    vendors.kling.faults.push({ on: "create", kind: "never-finishes", match: "generations" });
    const jobId = await startJob("Kling parked");
    const parked = await parkedAt(jobId, "processing-style");
    const checks = vendors.kling.checks;
    const task = { task_id: parked.current?.taskId, task_status: "succeed" };
    const kling = (query: string, body: unknown = task) =>
      post(`kling?${query}`, JSON_HEADERS, JSON.stringify(body)).then(answer);

    const own = callbackQuery("kling", jobId, "style");
    const token = new URLSearchParams(own).get("token") ?? "";
    const forged = [
      `jobId=${jobId}`,
      own.replace(`token=${token}`, "token="),
      own.replace(`token=${token}`, `token=${"A".repeat(43)}`),
      own.replace("step=style", "step=tryon"),
      callbackQuery("kling", jobId, "style", "not-our-callback-secret-0123456789"),
      callbackQuery("kling", completedJobId, "style").replace(completedJobId, jobId),
      callbackQuery("replicate", jobId, "style"),
    ];
    for (const query of forged) {
      expect(await kling(query)).toEqual({
        status: 401,
        body: expect.objectContaining({ code: "unauthorized" }),
      });
    }
    expect((await kling(own.replace(jobId, "not-a-job"))).status).toBe(400);
    await sleep(300);
    expect(vendors.kling.checks).toBe(checks);
    expect((await readJob(jobId)).version).toBe(parked.version);

    // The job's own URL: the task is re-fetched (still running), whatever the body claims.
    expect(await kling(own)).toEqual({ status: 200, body: { ok: true } });
    expect(vendors.kling.checks).toBe(checks + 1);
    expect(await kling(own, { code: 0, data: task })).toEqual({
      status: 200,
      body: { ok: true },
    });
    expect(vendors.kling.checks).toBe(checks + 2);
    expect((await readJob(jobId)).status).toBe("processing-style");
  });
});

describe("Replicate webhooks", () => {
  it("are refused when forged or stale, ignored when replayed, and advance nothing then", async () => {
    vendors.replicate.faults.push({ on: "create", kind: "never-finishes" });
    const jobId = await startJob("Replicate parked");
    const parked = await parkedAt(jobId, "processing-faceswap");
    const checks = vendors.replicate.checks;
    const body = JSON.stringify({
      id: parked.current?.taskId,
      status: "succeeded",
      output: "https://evil/x.png",
    });
    const own = callbackQuery("replicate", jobId, "faceswap");
    const replicate = (headers: Record<string, string>, sent = body, query = own) =>
      post(`replicate?${query}`, { ...JSON_HEADERS, ...headers }, sent).then(answer);
    const refused = { status: 401, body: expect.objectContaining({ code: "unauthorized" }) };

    expect(await replicate(signWebhook(FORGED_SECRET, "msg_forged", body))).toEqual(refused);
    expect(
      await replicate(signWebhook(REPLICATE_SECRET, "msg_tampered", body), body.replace("evil", "evil2")),
    ).toEqual(refused);
    expect(await replicate({})).toEqual(refused);
    const { "webhook-signature": _, ...unsigned } = signWebhook(REPLICATE_SECRET, "msg_unsigned", body);
    expect(await replicate(unsigned)).toEqual(refused);
    expect(await replicate(signWebhook(REPLICATE_SECRET, "msg_old", body, nowSeconds() - 6 * 60))).toEqual(
      refused,
    );
    expect(await replicate(signWebhook(REPLICATE_SECRET, "msg_ahead", body, nowSeconds() + 6 * 60))).toEqual(
      refused,
    );
    expect((await replicate(signWebhook(REPLICATE_SECRET, "msg_nojob", body), body, "jobId=x")).status).toBe(
      400,
    );
    // A genuine signature does not vouch for the job: an unsigned or another job's URL is refused.
    const signed = (id: string) => signWebhook(REPLICATE_SECRET, id, body);
    expect(await replicate(signed("msg_unsigned_url"), body, `jobId=${jobId}`)).toEqual(refused);
    const otherJob = callbackQuery("replicate", completedJobId, "faceswap").replace(completedJobId, jobId);
    expect(await replicate(signed("msg_other_job"), body, otherJob)).toEqual(refused);
    await sleep(300);
    expect(vendors.replicate.checks).toBe(checks);
    expect((await readJob(jobId)).version).toBe(parked.version);

    // A genuine delivery nudges once (the prediction is re-fetched: still running); its replay does not.
    const genuine = signWebhook(REPLICATE_SECRET, "msg_genuine", body);
    expect(await replicate(genuine)).toEqual({ status: 200, body: { ok: true } });
    expect(vendors.replicate.checks).toBe(checks + 1);
    expect(await replicate(genuine)).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    await sleep(300);
    expect(vendors.replicate.checks).toBe(checks + 1);
    expect((await readJob(jobId)).status).toBe("processing-faceswap");

    // The emulator's own delivery from the first test, sent again.
    const [delivered] = vendors.replicate.webhookDeliveries();
    if (!delivered) throw new Error("the emulator delivered no webhook");
    const replay = await fetch(delivered.url, {
      method: "POST",
      headers: delivered.headers,
      body: delivered.body,
    });
    expect(await answer(replay)).toEqual({ status: 200, body: { ok: true, duplicate: true } });
  });
});

describe("OpenAI webhooks", () => {
  it("are refused when forged or stale, ignored when replayed or foreign, and advance nothing then", async () => {
    vendors.openai.faults.push({ on: "create", kind: "never-finishes" });
    const jobId = await startJob("OpenAI parked");
    const parked = await parkedAt(jobId, "pending");
    const checks = vendors.openai.checks;
    const event = (type: string, responseId = parked.current?.taskId) =>
      JSON.stringify({
        object: "event",
        id: `evt_${randomUUID()}`,
        type,
        created_at: nowSeconds(),
        data: { id: responseId },
      });
    const completed = event("response.completed");
    const openai = (headers: Record<string, string>, sent = completed) =>
      post("openai", { ...JSON_HEADERS, ...headers }, sent).then(answer);
    const refused = { status: 401, body: expect.objectContaining({ code: "unauthorized" }) };

    expect(await openai(signWebhook(FORGED_SECRET, "wh_forged", completed))).toEqual(refused);
    expect(
      await openai(signWebhook(OPENAI_SECRET, "wh_tampered", completed), event("response.completed")),
    ).toEqual(refused);
    expect(await openai({})).toEqual(refused);
    expect(await openai(signWebhook(OPENAI_SECRET, "wh_old", completed, nowSeconds() - 6 * 60))).toEqual(
      refused,
    );
    await sleep(300);
    expect(vendors.openai.checks).toBe(checks);
    expect((await readJob(jobId)).version).toBe(parked.version);

    // Foreign events: another kind, or a response that is not ours (OpenAI answers 404 for it).
    const batch = event("batch.completed", "batch_1");
    expect(await openai(signWebhook(OPENAI_SECRET, "wh_batch", batch), batch)).toEqual({
      status: 200,
      body: { ok: true, ignored: true },
    });
    const foreign = event("response.completed", "resp_not_ours");
    expect(await openai(signWebhook(OPENAI_SECRET, "wh_foreign", foreign), foreign)).toEqual({
      status: 200,
      body: { ok: true },
    });
    expect(vendors.openai.checks).toBe(checks);
    expect((await readJob(jobId)).version).toBe(parked.version);

    // A genuine event: the response is read (its metadata names the job), then the job's task checked.
    const genuine = signWebhook(OPENAI_SECRET, "wh_genuine", completed);
    expect(await openai(genuine)).toEqual({ status: 200, body: { ok: true } });
    expect(vendors.openai.checks).toBe(checks + 2);
    expect(await openai(genuine)).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    await sleep(300);
    expect(vendors.openai.checks).toBe(checks + 2);
    expect((await readJob(jobId)).status).toBe("pending");
  });
});

describe("callback routes without their secrets", () => {
  let offline: AppServer;
  let withoutCallbackSecret: AppServer;
  beforeAll(async () => {
    [offline, withoutCallbackSecret] = await Promise.all([
      startApp(),
      // Vendor keys and webhook secrets, but no CALLBACK_SECRET: Kling and Replicate are polled only.
      startApp({
        ...vendors.env,
        PUBLIC_BASE_URL: appUrl,
        REPLICATE_WEBHOOK_SECRET: REPLICATE_SECRET,
        OPENAI_WEBHOOK_SECRET: OPENAI_SECRET,
      }),
    ]);
  });
  afterAll(async () => Promise.all([offline?.stop(), withoutCallbackSecret?.stop()]));

  it("answer 404 callbacks_disabled for Kling and Replicate when CALLBACK_SECRET is unset", async () => {
    for (const route of ["kling", "replicate"]) {
      const query = callbackQuery(route, completedJobId, route === "kling" ? "style" : "faceswap");
      const response = await fetch(`${withoutCallbackSecret.url}/api/generation/callback/${route}?${query}`, {
        method: "POST",
        headers: { ...JSON_HEADERS, ...signWebhook(REPLICATE_SECRET, `msg_${route}`, "{}") },
        body: "{}",
      });
      expect(await answer(response)).toEqual({
        status: 404,
        body: expect.objectContaining({ code: "callbacks_disabled" }),
      });
    }
  });

  it("answer 404 callbacks_disabled, and 405 to other methods", async () => {
    const body = JSON.stringify({ id: "x" });
    const routes = ["kling?jobId=0b7d2f4e-8c1a-4b5e-9f3d-2a6c8e1b4d70&token=x", "replicate", "openai"];
    for (const route of routes) {
      const url = `${offline.url}/api/generation/callback/${route}`;
      const response = await fetch(url, { method: "POST", headers: JSON_HEADERS, body });
      expect(await answer(response)).toEqual({
        status: 404,
        body: expect.objectContaining({ code: "callbacks_disabled" }),
      });
      const get = await fetch(url);
      expect(get.status).toBe(405);
      expect(get.headers.get("allow")).toBe("POST");
    }
  });
});
