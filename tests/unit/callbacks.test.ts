import { timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createLocalBlobStore } from "@/lib/blobs/local";
import { CALLBACK_BODY_LIMIT_BYTES } from "@/lib/callbacks/callback-body";
import {
  authorizeCallback,
  CALLBACK_TOKEN_TTL_SECONDS,
  callbackQuery,
  checkCallbackQuery,
} from "@/lib/callbacks/callback-token";
import {
  jobIdOfIdempotencyKey,
  klingCallbackUrlFor,
  replicateWebhookUrlFor,
  stepOfIdempotencyKey,
} from "@/lib/callbacks/callback-urls";
import { klingTaskIdOf } from "@/lib/callbacks/kling-callback";
import { nudgeJob } from "@/lib/callbacks/nudge-job";
import { responseIdOfEvent } from "@/lib/callbacks/openai-event";
import { receiveSignedWebhook } from "@/lib/callbacks/signed-webhook";
import { checkWebhookHeaders, isSignedBody, webhookKey } from "@/lib/callbacks/standard-webhooks";
import { parseConfig } from "@/lib/config";
import { AppError } from "@/lib/errors";
import { ConfigError } from "@/lib/failures";
import { type JobStore, jobCodec } from "@/lib/jobs/job-store";
import { PIPELINE } from "@/lib/jobs/pipeline";
import { createSqliteStore } from "@/lib/store/sqlite";
import { signWebhook } from "@/tests/emulators/standard-webhooks";
import { makeStoredJob } from "@/tests/support/job-factory";
import { type ScriptedProviders, scriptedProviders } from "@/tests/support/scripted-provider";

// Wraps the real timingSafeEqual so a test can see that token checks go through it.
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const SECRET = `whsec_${Buffer.from("a signing key of thirty-two bytes").toString("base64")}`;
const OTHER_SECRET = `whsec_${Buffer.from("another signing key, not ours!!!").toString("base64")}`;
const CALLBACK_SECRET = "callback-secret-of-at-least-32-characters";
const JOB_ID = "0b7d2f4e-8c1a-4b5e-9f3d-2a6c8e1b4d70";
const OTHER_JOB_ID = "5a1c9e3b-7d2f-4e8a-b6c4-1f9e3d7a2b58";
const NOW = 1_800_000_000_000;
const BODY = JSON.stringify({ id: "pred_1", status: "succeeded", output: "https://x/y.png" });

/** A signed delivery as the vendor would send it (the emulators' signer), with one part to break. */
function delivery(overrides: { secret?: string; body?: string; at?: number; id?: string } = {}) {
  const at = overrides.at ?? Math.floor(NOW / 1000);
  const signed = signWebhook(overrides.secret ?? SECRET, overrides.id ?? "msg_1", BODY, at);
  return { headers: new Headers(signed), body: Buffer.from(overrides.body ?? BODY) };
}

/** The AppError code a call throws (null when it does not throw). */
function codeOf(work: () => unknown): string | null {
  try {
    work();
    return null;
  } catch (error) {
    return error instanceof AppError ? error.code : String(error);
  }
}

describe("Standard Webhooks headers, checked before the body is read", () => {
  const check = (headers: Headers, now = NOW) => checkWebhookHeaders(headers, now);

  it("accept the three headers with a fresh timestamp", () => {
    expect(check(delivery().headers)).toEqual({ ok: true, webhookId: "msg_1", timestamp: NOW / 1000 });
  });

  it("refuse a delivery missing any of the three headers", () => {
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const { headers } = delivery();
      headers.delete(name);
      expect(check(headers)).toEqual({ ok: false, reason: "missing_headers" });
    }
  });

  it("refuse a timestamp more than five minutes old or ahead", () => {
    const seconds = NOW / 1000;
    for (const at of [seconds - 301, seconds + 301, seconds - 3600]) {
      expect(check(delivery({ at }).headers)).toEqual({ ok: false, reason: "stale" });
    }
    for (const at of [seconds - 300, seconds + 300]) expect(check(delivery({ at }).headers).ok).toBe(true);
  });

  it("refuse a timestamp that is not a number of seconds", () => {
    for (const value of ["2027-01-15T08:00:00Z", "1800000000.5", "-1", "1e9"]) {
      const { headers } = delivery();
      headers.set("webhook-timestamp", value);
      expect(check(headers)).toEqual({ ok: false, reason: "invalid_timestamp" });
    }
  });
});

describe("Standard Webhooks signatures (the standardwebhooks package)", () => {
  // The package checks freshness again on its own clock.
  beforeAll(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(NOW);
  });
  afterAll(() => vi.useRealTimers());
  const signed = (headers: Headers, body: Buffer, secret = SECRET) => isSignedBody(secret, headers, body);

  it("accept the emulators' signature over the raw body", () => {
    const { headers, body } = delivery();
    expect(signed(headers, body)).toBe(true);
  });

  it("refuse a signature made with another secret", () => {
    const { headers, body } = delivery({ secret: OTHER_SECRET });
    expect(signed(headers, body)).toBe(false);
  });

  it("refuse a tampered body, even one that parses to the same JSON", () => {
    const { headers } = delivery();
    expect(signed(headers, Buffer.from(BODY.replace("succeeded", "failed")))).toBe(false);
    expect(signed(headers, Buffer.from(JSON.stringify(JSON.parse(BODY), null, 1)))).toBe(false);
  });

  it("refuse a signature moved to another webhook-id or timestamp", () => {
    const moved = delivery();
    moved.headers.set("webhook-id", "msg_2");
    expect(signed(moved.headers, moved.body)).toBe(false);
    const shifted = delivery();
    shifted.headers.set("webhook-timestamp", String(NOW / 1000 - 1));
    expect(signed(shifted.headers, shifted.body)).toBe(false);
  });

  it("accept a list of signatures when one of them is valid (key rotation)", () => {
    const { headers, body } = delivery();
    const valid = headers.get("webhook-signature") ?? "";
    const stale = delivery({ secret: OTHER_SECRET }).headers.get("webhook-signature") ?? "";
    for (const list of [`${stale} ${valid}`, `${valid} ${stale}`, `v1,not-base64!! ${valid}`]) {
      headers.set("webhook-signature", list);
      expect(signed(headers, body)).toBe(true);
    }
    headers.set("webhook-signature", `${stale} v1,AAAA v1a,${valid.slice(3)}`);
    expect(signed(headers, body)).toBe(false);
  });

  it("decode the key after whsec_ as base64, and use a bare secret as text", () => {
    expect(webhookKey(SECRET).toString()).toBe("a signing key of thirty-two bytes");
    expect(webhookKey("plain-secret").toString()).toBe("plain-secret");
    const headers = new Headers(signWebhook("plain-secret", "msg_p", BODY, NOW / 1000));
    expect(signed(headers, Buffer.from(BODY), "plain-secret")).toBe(true);
  });

  it("agree with the OpenAI SDK's verifier on valid and forged deliveries", async () => {
    const sdk = new OpenAI({ apiKey: "unused" }).webhooks;
    const seconds = NOW / 1000;
    const cases = [
      { ...delivery({ at: seconds }), valid: true },
      { ...delivery({ at: seconds, secret: OTHER_SECRET }), valid: false },
      { ...delivery({ at: seconds, body: `${BODY} ` }), valid: false },
      { ...delivery({ at: seconds - 400 }), valid: false },
    ];
    for (const { headers, body, valid } of cases) {
      const ours = checkWebhookHeaders(headers).ok && isSignedBody(SECRET, headers, body);
      const theirs = await sdk.verifySignature(body.toString(), headers, SECRET).then(
        () => true,
        () => false,
      );
      expect([ours, theirs]).toEqual([valid, valid]);
    }
  });
});

describe("callback tokens", () => {
  const claims = { vendor: "kling", jobId: JOB_ID, step: "style" } as const;
  const issued = callbackQuery(CALLBACK_SECRET, claims, NOW);
  const check = (
    query: URLSearchParams,
    now = NOW,
    jobId = JOB_ID,
    vendor: "kling" | "replicate" = "kling",
  ) => checkCallbackQuery(CALLBACK_SECRET, vendor, jobId, query, now);
  const edited = (changes: Record<string, string | null>) => {
    const query = new URLSearchParams(issued);
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) query.delete(name);
      else query.set(name, value);
    }
    return query;
  };

  it("carry the job, the step, an expiry an hour out and a 256-bit base64url signature", () => {
    expect(issued.get("jobId")).toBe(JOB_ID);
    expect(issued.get("step")).toBe("style");
    expect(Number(issued.get("expires"))).toBe(NOW / 1000 + 3600);
    expect(issued.get("token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("are accepted for their own vendor, job and step until they expire, compared in constant time", () => {
    vi.mocked(timingSafeEqual).mockClear();
    expect(check(issued)).toEqual({ ok: true, jobId: JOB_ID, step: "style" });
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    expect(check(issued, NOW + CALLBACK_TOKEN_TTL_SECONDS * 1000).ok).toBe(true);
  });

  it("are refused once expired", () => {
    expect(check(issued, NOW + CALLBACK_TOKEN_TTL_SECONDS * 1000 + 1000)).toEqual({
      ok: false,
      reason: "expired",
    });
  });

  it("are refused for another job, step or vendor, or with a pushed-back expiry", () => {
    expect(check(issued, NOW, OTHER_JOB_ID)).toEqual({ ok: false, reason: "bad_token" });
    expect(check(issued, NOW, JOB_ID, "replicate")).toEqual({ ok: false, reason: "bad_token" });
    expect(check(edited({ step: "tryon" }))).toEqual({ ok: false, reason: "bad_token" });
    const later = String(Number(issued.get("expires")) + 86_400);
    expect(check(edited({ expires: later }))).toEqual({ ok: false, reason: "bad_token" });
    const otherSecret = callbackQuery("another-callback-secret-of-32-characters", claims, NOW);
    expect(check(otherSecret)).toEqual({ ok: false, reason: "bad_token" });
    const token = issued.get("token") ?? "";
    const flipped = (token[0] === "A" ? "B" : "A") + token.slice(1);
    expect(check(edited({ token: flipped }))).toEqual({ ok: false, reason: "bad_token" });
  });

  it("are refused when a part is missing or malformed", () => {
    const token = issued.get("token") ?? "";
    const cases: Record<string, string | null>[] = [
      { token: null },
      { token: "" },
      { token: token.slice(0, 42) },
      { token: `${token}A` },
      { step: null },
      { step: "STYLE" },
      { step: "delete" },
      { expires: null },
      { expires: "soon" },
      { expires: "-1" },
    ];
    for (const changes of cases) {
      expect(check(edited(changes)), JSON.stringify(changes)).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("outlive the longest step deadline", () => {
    const longest = Math.max(...PIPELINE.map((step) => step.deadlineMs));
    expect(CALLBACK_TOKEN_TTL_SECONDS * 1000).toBeGreaterThanOrEqual(longest);
  });

  it("answer 400 for a malformed job id and 401 (closing the connection) for a bad token", () => {
    const fresh = callbackQuery(CALLBACK_SECRET, claims);
    expect(authorizeCallback(CALLBACK_SECRET, "kling", fresh)).toEqual({ jobId: JOB_ID, step: "style" });
    const query = (changes: Record<string, string>) =>
      new URLSearchParams({ ...Object.fromEntries(fresh), ...changes });
    expect(codeOf(() => authorizeCallback(CALLBACK_SECRET, "kling", query({ jobId: "not-a-job" })))).toBe(
      "invalid_job_id",
    );
    expect(codeOf(() => authorizeCallback(CALLBACK_SECRET, "kling", new URLSearchParams()))).toBe(
      "missing_job_id",
    );
    try {
      authorizeCallback(CALLBACK_SECRET, "kling", query({ jobId: OTHER_JOB_ID }));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe("unauthorized");
      expect((error as AppError).headers).toEqual({ Connection: "close" });
    }
  });

  it("read the task id from either Kling body shape, for the log only", () => {
    const body = (value: unknown) => Buffer.from(JSON.stringify(value));
    expect(klingTaskIdOf(body({ task_id: "t1", task_status: "succeed" }))).toBe("t1");
    expect(klingTaskIdOf(body({ code: 0, data: { task_id: "t2" } }))).toBe("t2");
    expect(klingTaskIdOf(body("garbage"))).toBeNull();
    expect(klingTaskIdOf(Buffer.from("not json"))).toBeNull();
    expect(klingTaskIdOf(Buffer.alloc(0))).toBeNull();
  });
});

describe("callback URLs", () => {
  const base = {
    KLING_ACCESS_KEY: "ak",
    KLING_SECRET_KEY: "sk",
    REPLICATE_API_TOKEN: "r8_token",
  };
  const all = {
    ...base,
    PUBLIC_BASE_URL: "https://style.example.com/",
    REPLICATE_WEBHOOK_SECRET: SECRET,
    CALLBACK_SECRET,
  };
  const key = `${JOB_ID}-style-2`;

  it("take the job id and step from an idempotency key", () => {
    expect(jobIdOfIdempotencyKey(key)).toBe(JOB_ID);
    expect(jobIdOfIdempotencyKey(`${JOB_ID}-faceswap-1`)).toBe(JOB_ID);
    expect(jobIdOfIdempotencyKey("not-a-key")).toBeNull();
    expect(jobIdOfIdempotencyKey(`${JOB_ID.toUpperCase()}-style-1`)).toBeNull();
    expect(jobIdOfIdempotencyKey(JOB_ID)).toBeNull();
    expect(stepOfIdempotencyKey(key)).toEqual({ jobId: JOB_ID, step: "style" });
    expect(stepOfIdempotencyKey(`${JOB_ID}-faceswap-1`)).toEqual({ jobId: JOB_ID, step: "faceswap" });
    expect(stepOfIdempotencyKey(`${JOB_ID}-styles-1`)).toBeNull();
    expect(stepOfIdempotencyKey(`${JOB_ID}-unknown-1`)).toBeNull();
  });

  it("are built only with PUBLIC_BASE_URL and CALLBACK_SECRET (and, for Replicate, its signing secret)", () => {
    const without = (name: keyof typeof all) => {
      const { [name]: _, ...rest } = all;
      return parseConfig(rest);
    };
    for (const name of ["PUBLIC_BASE_URL", "CALLBACK_SECRET"] as const) {
      expect(klingCallbackUrlFor(without(name)), name).toBeUndefined();
      expect(replicateWebhookUrlFor(without(name)), name).toBeUndefined();
    }
    expect(replicateWebhookUrlFor(without("REPLICATE_WEBHOOK_SECRET"))).toBeUndefined();
    expect(klingCallbackUrlFor(without("REPLICATE_WEBHOOK_SECRET"))).toBeDefined();
  });

  it("carry a token for their own vendor, job and step", () => {
    const config = parseConfig(all);
    for (const vendor of ["kling", "replicate"] as const) {
      const builder = vendor === "kling" ? klingCallbackUrlFor(config) : replicateWebhookUrlFor(config);
      const url = new URL(builder?.(key) ?? "");
      expect(url.origin + url.pathname).toBe(`https://style.example.com/api/generation/callback/${vendor}`);
      expect(authorizeCallback(CALLBACK_SECRET, vendor, url.searchParams)).toEqual({
        jobId: JOB_ID,
        step: "style",
      });
      const other = vendor === "kling" ? "replicate" : "kling";
      expect(codeOf(() => authorizeCallback(CALLBACK_SECRET, other, url.searchParams))).toBe("unauthorized");
      expect(builder?.("broken")).toBeUndefined();
    }
  });

  it("refuse a CALLBACK_SECRET too short to resist guessing", () => {
    expect(() => parseConfig({ CALLBACK_SECRET: "short" })).toThrow(ConfigError);
    expect(() => parseConfig({ CALLBACK_SECRET: "short" })).toThrow(/CALLBACK_SECRET/);
    expect(parseConfig({}).callbackSecret).toBeNull();
    expect(parseConfig({ CALLBACK_SECRET }).callbackSecret).toBe(CALLBACK_SECRET);
  });
});

describe("OpenAI events", () => {
  it("name the response for response.* events only", () => {
    const event = (type: string) => ({
      object: "event",
      id: "evt_1",
      type,
      created_at: 1,
      data: { id: "resp_1" },
    });
    for (const type of [
      "response.completed",
      "response.failed",
      "response.cancelled",
      "response.incomplete",
    ]) {
      expect(responseIdOfEvent(event(type))).toBe("resp_1");
    }
    expect(responseIdOfEvent(event("batch.completed"))).toBeNull();
    expect(responseIdOfEvent({ type: "response.completed" })).toBeNull();
    expect(responseIdOfEvent("nonsense")).toBeNull();
  });
});

describe("store-backed callback handling", () => {
  let dir: string;
  let store: JobStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "callbacks-"));
    store = createSqliteStore({ codec: jobCodec, file: path.join(dir, "jobs.db"), ttlSeconds: 3600 });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (headers: Record<string, string>, body: string) =>
    new Request("http://app/api/generation/callback/replicate", { method: "POST", headers, body });
  const receive = (request: Request) =>
    receiveSignedWebhook(request, { source: "replicate", secret: SECRET, store });
  const codeOf = (promise: Promise<unknown>) =>
    promise.then(
      () => null,
      (error: unknown) => (error instanceof AppError ? error.code : String(error)),
    );

  describe("signed webhooks", () => {
    it("are accepted once; the same webhook-id again is a duplicate", async () => {
      const headers = signWebhook(SECRET, "msg_a", BODY);
      const first = await receive(post(headers, BODY));
      expect(first).toEqual({ webhookId: "msg_a", payload: JSON.parse(BODY), duplicate: false });
      expect((await receive(post(headers, BODY))).duplicate).toBe(true);
      expect((await receive(post(signWebhook(SECRET, "msg_b", BODY), BODY))).duplicate).toBe(false);
    });

    it("are refused (401) when forged or stale, without touching the store", async () => {
      const stale = Math.floor(Date.now() / 1000) - 600;
      expect(await codeOf(receive(post(signWebhook(OTHER_SECRET, "msg_c", BODY), BODY)))).toBe(
        "unauthorized",
      );
      expect(await codeOf(receive(post(signWebhook(SECRET, "msg_c", BODY, stale), BODY)))).toBe(
        "unauthorized",
      );
      expect(await codeOf(receive(post({}, BODY)))).toBe("unauthorized");
      expect((await store.hit("webhook:replicate:msg_c", 60_000)).count).toBe(1);
    });

    it("answer 400 for a signed body that is not JSON", async () => {
      const body = "not json";
      expect(await codeOf(receive(post(signWebhook(SECRET, "msg_d", body), body)))).toBe("invalid_request");
    });

    /** A body of `totalBytes` in 64 kB chunks that counts what the reader pulled from it. */
    function countingBody(totalBytes: number) {
      const chunk = new Uint8Array(64 * 1024);
      let pulled = 0;
      const stream = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            if (pulled >= totalBytes) return controller.close();
            pulled += chunk.length;
            controller.enqueue(chunk);
          },
        },
        { highWaterMark: 0 },
      );
      return { stream, pulled: () => pulled };
    }
    const streamed = (headers: Record<string, string>, stream: ReadableStream<Uint8Array>) =>
      new Request("http://app/api/generation/callback/replicate", {
        method: "POST",
        headers,
        body: stream,
        duplex: "half",
      } as RequestInit);

    it("are refused (401) on their headers before a byte of the body is read", async () => {
      const stale = Math.floor(Date.now() / 1000) - 600;
      for (const headers of [{}, signWebhook(SECRET, "msg_f", BODY, stale)]) {
        const body = countingBody(200 * 1024 * 1024);
        const error = await receive(streamed(headers, body.stream)).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(AppError);
        expect((error as AppError).code).toBe("unauthorized");
        expect((error as AppError).headers).toEqual({ Connection: "close" });
        expect(body.pulled()).toBe(0);
      }
    });

    it("are refused (413) past 1 MB with valid headers, read no further than the cap", async () => {
      const body = countingBody(200 * 1024 * 1024);
      const headers = signWebhook(SECRET, "msg_g", BODY);
      expect(await codeOf(receive(streamed(headers, body.stream)))).toBe("request_too_large");
      expect(body.pulled()).toBeGreaterThan(CALLBACK_BODY_LIMIT_BYTES);
      expect(body.pulled()).toBeLessThanOrEqual(CALLBACK_BODY_LIMIT_BYTES + 64 * 1024);
      const declared = countingBody(2 * 1024 * 1024);
      const withLength = { ...headers, "content-length": String(2 * 1024 * 1024) };
      expect(await codeOf(receive(streamed(withLength, declared.stream)))).toBe("request_too_large");
      expect(declared.pulled()).toBe(0);
      expect((await store.hit("webhook:replicate:msg_g", 60_000)).count).toBe(1);
    });

    it("accept a body of exactly the cap", async () => {
      const body = JSON.stringify({ id: "pred_big", pad: "x".repeat(CALLBACK_BODY_LIMIT_BYTES - 26) });
      expect(Buffer.byteLength(body)).toBe(CALLBACK_BODY_LIMIT_BYTES);
      const received = await receive(post(signWebhook(SECRET, "msg_h", body), body));
      expect(received.duplicate).toBe(false);
    });

    it("keep each vendor's webhook ids apart", async () => {
      const headers = signWebhook(SECRET, "msg_e", BODY);
      await receive(post(headers, BODY));
      const openai = await receiveSignedWebhook(post(headers, BODY), {
        source: "openai",
        secret: SECRET,
        store,
      });
      expect(openai.duplicate).toBe(false);
    });
  });

  describe("nudges", () => {
    let providers: ScriptedProviders;
    beforeEach(async () => {
      providers = await scriptedProviders();
      providers.advice.onCheck({ state: "running", nextCheckInMs: 60_000 });
      const current = { attempt: 1, startedAt: Date.now(), submittingAt: null, taskId: "advice-task-1" };
      await store.create(
        makeStoredJob({
          id: JOB_ID,
          current: { ...current, failures: 0, lastError: null },
          nextCheckAt: Date.now() + 60_000,
        }),
      );
    });
    const deps = () => ({ store, blobs: createLocalBlobStore({ dir: path.join(dir, "blobs") }), providers });

    it("check the job's task now, though its next check is not due", async () => {
      await nudgeJob(deps(), async () => JOB_ID, { source: "test" });
      expect(providers.advice.checks).toEqual(["advice-task-1"]);
    });

    it("stop skipping the schedule when one job gets a flood of callbacks", async () => {
      for (let i = 0; i < 15; i++) await nudgeJob(deps(), async () => JOB_ID, { source: "test" });
      expect(providers.advice.checks).toHaveLength(10);
    });

    it("do nothing for a callback that names no job of ours, and never throw", async () => {
      await nudgeJob(deps(), async () => null, { source: "test" });
      await nudgeJob(deps(), async () => OTHER_JOB_ID, { source: "test" });
      await nudgeJob(
        deps(),
        async () => {
          throw new Error("OpenAI is down");
        },
        { source: "test" },
      );
      expect(providers.advice.checks).toHaveLength(0);
    });
  });
});
