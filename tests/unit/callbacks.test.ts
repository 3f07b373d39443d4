import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLocalBlobStore } from "@/lib/blobs/local";
import {
  jobIdOfIdempotencyKey,
  klingCallbackUrlFor,
  replicateWebhookUrlFor,
} from "@/lib/callbacks/callback-urls";
import { klingTaskIdOf, verifyKlingCallback } from "@/lib/callbacks/kling-callback";
import { isKlingCallbackToken, klingCallbackToken } from "@/lib/callbacks/kling-token";
import { nudgeJob } from "@/lib/callbacks/nudge-job";
import { responseIdOfEvent } from "@/lib/callbacks/openai-event";
import { receiveSignedWebhook } from "@/lib/callbacks/signed-webhook";
import { verifyStandardWebhook, webhookKey } from "@/lib/callbacks/standard-webhooks";
import { parseConfig } from "@/lib/config";
import { AppError } from "@/lib/errors";
import { createSqliteStore } from "@/lib/store/sqlite";
import type { JobStore } from "@/lib/store/types";
import { signWebhook } from "@/tests/emulators/standard-webhooks";
import { makeStoredJob } from "@/tests/support/job-factory";
import { type ScriptedProviders, scriptedProviders } from "@/tests/support/scripted-provider";

// Wraps the real timingSafeEqual so a test can see that token and signature checks go through it.
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const SECRET = `whsec_${Buffer.from("a signing key of thirty-two bytes").toString("base64")}`;
const OTHER_SECRET = `whsec_${Buffer.from("another signing key, not ours!!!").toString("base64")}`;
const JOB_ID = "0b7d2f4e-8c1a-4b5e-9f3d-2a6c8e1b4d70";
const OTHER_JOB_ID = "5a1c9e3b-7d2f-4e8a-b6c4-1f9e3d7a2b58";
const NOW = 1_800_000_000_000;
const BODY = JSON.stringify({ id: "pred_1", status: "succeeded", output: "https://x/y.png" });

/** A signed delivery as the vendor would send it, with overrides to break one part. */
function delivery(
  overrides: { secret?: string; body?: string; signedBody?: string; at?: number; id?: string } = {},
) {
  const at = overrides.at ?? Math.floor(NOW / 1000);
  const signed = signWebhook(
    overrides.secret ?? SECRET,
    overrides.id ?? "msg_1",
    overrides.signedBody ?? BODY,
    at,
  );
  return { headers: new Headers(signed), body: overrides.body ?? BODY };
}

const verify = (headers: Headers, body: string | Uint8Array, now = NOW) =>
  verifyStandardWebhook({ secret: SECRET, headers, body, now });

describe("Standard Webhooks verification", () => {
  it("accepts a valid signature over the raw body, as a string or as bytes", () => {
    const { headers, body } = delivery();
    expect(verify(headers, body)).toEqual({ ok: true, webhookId: "msg_1", timestamp: NOW / 1000 });
    expect(verify(headers, Buffer.from(body)).ok).toBe(true);
  });

  it("refuses a signature made with another secret", () => {
    const { headers, body } = delivery({ secret: OTHER_SECRET });
    expect(verify(headers, body)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("refuses a tampered body, even one that parses to the same JSON", () => {
    const tampered = BODY.replace("succeeded", "failed");
    expect(verify(delivery().headers, tampered)).toEqual({ ok: false, reason: "bad_signature" });
    const reformatted = JSON.stringify(JSON.parse(BODY), null, 1);
    expect(verify(delivery().headers, reformatted)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("refuses a signature moved to another webhook-id", () => {
    const { headers, body } = delivery();
    headers.set("webhook-id", "msg_2");
    expect(verify(headers, body)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("refuses a delivery missing any of the three headers", () => {
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const { headers, body } = delivery();
      headers.delete(name);
      expect(verify(headers, body)).toEqual({ ok: false, reason: "missing_headers" });
    }
  });

  it("refuses a timestamp more than five minutes old or ahead, however well signed", () => {
    const seconds = NOW / 1000;
    for (const at of [seconds - 301, seconds + 301, seconds - 3600]) {
      const { headers, body } = delivery({ at });
      expect(verify(headers, body)).toEqual({ ok: false, reason: "stale" });
    }
    for (const at of [seconds - 300, seconds + 300]) {
      const { headers, body } = delivery({ at });
      expect(verify(headers, body).ok).toBe(true);
    }
  });

  it("refuses a timestamp that is not a number of seconds", () => {
    const { headers, body } = delivery();
    headers.set("webhook-timestamp", "2027-01-15T08:00:00Z");
    expect(verify(headers, body)).toEqual({ ok: false, reason: "invalid_timestamp" });
  });

  it("accepts a list of signatures when one of them is valid (key rotation)", () => {
    const { headers, body } = delivery();
    const valid = headers.get("webhook-signature") ?? "";
    const stale = delivery({ secret: OTHER_SECRET }).headers.get("webhook-signature") ?? "";
    for (const list of [`${stale} ${valid}`, `${valid} ${stale}`, `v1,not-base64!! ${valid}`]) {
      headers.set("webhook-signature", list);
      expect(verify(headers, body).ok).toBe(true);
    }
    headers.set("webhook-signature", `${stale} v1,AAAA v1a,${valid.slice(3)}`);
    expect(verify(headers, body)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("compares signatures in constant time", () => {
    vi.mocked(timingSafeEqual).mockClear();
    const { headers, body } = delivery();
    verify(headers, body);
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
  });

  it("decodes the key after whsec_ as base64, and uses a bare secret as text", () => {
    expect(webhookKey(SECRET).toString()).toBe("a signing key of thirty-two bytes");
    expect(webhookKey("plain-secret").toString()).toBe("plain-secret");
  });

  it("agrees with the OpenAI SDK's verifier on valid and forged deliveries", async () => {
    const sdk = new OpenAI({ apiKey: "unused" }).webhooks;
    const seconds = Math.floor(Date.now() / 1000);
    const cases = [
      { ...delivery({ at: seconds }), valid: true },
      { ...delivery({ at: seconds, secret: OTHER_SECRET }), valid: false },
      { ...delivery({ at: seconds, body: `${BODY} ` }), valid: false },
      { ...delivery({ at: seconds - 400 }), valid: false },
    ];
    for (const { headers, body, valid } of cases) {
      const ours = verifyStandardWebhook({ secret: SECRET, headers, body }).ok;
      const theirs = await sdk.verifySignature(body, headers, SECRET).then(
        () => true,
        () => false,
      );
      expect([ours, theirs]).toEqual([valid, valid]);
    }
  });
});

describe("Kling callback tokens", () => {
  const KEY = "kling-secret-key";

  it("are HMAC-SHA256 of the job id under the Kling secret key, 32 hex characters", () => {
    const expected = createHmac("sha256", KEY).update(`kling-callback:${JOB_ID}`).digest("hex").slice(0, 32);
    expect(klingCallbackToken(KEY, JOB_ID)).toBe(expected);
    expect(klingCallbackToken(KEY, JOB_ID)).toMatch(/^[0-9a-f]{32}$/);
    expect(klingCallbackToken(KEY, JOB_ID)).toBe(klingCallbackToken(KEY, JOB_ID));
  });

  it("differ across jobs and across secret keys", () => {
    expect(klingCallbackToken(KEY, JOB_ID)).not.toBe(klingCallbackToken(KEY, OTHER_JOB_ID));
    expect(klingCallbackToken(KEY, JOB_ID)).not.toBe(klingCallbackToken("another-key", JOB_ID));
  });

  it("accept only the job's own token, compared in constant time", () => {
    const token = klingCallbackToken(KEY, JOB_ID);
    vi.mocked(timingSafeEqual).mockClear();
    expect(isKlingCallbackToken(KEY, JOB_ID, token)).toBe(true);
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    const flip = (i: number) => token.slice(0, i) + (token[i] === "0" ? "1" : "0") + token.slice(i + 1);
    const wrong = [
      null,
      "",
      flip(0),
      flip(31),
      token.toUpperCase(),
      token.slice(0, 31),
      `${token}0`,
      klingCallbackToken(KEY, OTHER_JOB_ID),
    ];
    for (const candidate of wrong) expect(isKlingCallbackToken(KEY, JOB_ID, candidate)).toBe(false);
  });

  it("are checked with the job id from the URL (400 for a malformed id, 401 for a wrong token)", () => {
    const query = (jobId: string, token: string) => new URLSearchParams({ jobId, token });
    expect(verifyKlingCallback(query(JOB_ID, klingCallbackToken(KEY, JOB_ID)), KEY)).toBe(JOB_ID);
    const codeOf = (params: URLSearchParams) => {
      try {
        verifyKlingCallback(params, KEY);
        return null;
      } catch (error) {
        return error instanceof AppError ? error.code : String(error);
      }
    };
    expect(codeOf(query(OTHER_JOB_ID, klingCallbackToken(KEY, JOB_ID)))).toBe("unauthorized");
    expect(codeOf(new URLSearchParams({ jobId: JOB_ID }))).toBe("unauthorized");
    expect(codeOf(query("not-a-job", "x"))).toBe("invalid_job_id");
    expect(codeOf(new URLSearchParams())).toBe("missing_job_id");
  });

  it("read the task id from either body shape, for the log only", () => {
    expect(klingTaskIdOf({ task_id: "t1", task_status: "succeed" })).toBe("t1");
    expect(klingTaskIdOf({ code: 0, data: { task_id: "t2" } })).toBe("t2");
    expect(klingTaskIdOf("garbage")).toBeNull();
    expect(klingTaskIdOf(null)).toBeNull();
  });
});

describe("callback URLs", () => {
  const base = {
    KLING_ACCESS_KEY: "ak",
    KLING_SECRET_KEY: "sk",
    REPLICATE_API_TOKEN: "r8_token",
  };
  const key = `${JOB_ID}-style-2`;

  it("take the job id from an idempotency key", () => {
    expect(jobIdOfIdempotencyKey(key)).toBe(JOB_ID);
    expect(jobIdOfIdempotencyKey(`${JOB_ID}-faceswap-1`)).toBe(JOB_ID);
    expect(jobIdOfIdempotencyKey("not-a-key")).toBeNull();
    expect(jobIdOfIdempotencyKey(`${JOB_ID.toUpperCase()}-style-1`)).toBeNull();
    expect(jobIdOfIdempotencyKey(JOB_ID)).toBeNull();
  });

  it("are built only when PUBLIC_BASE_URL is set (and, for Replicate, its secret)", () => {
    expect(klingCallbackUrlFor(parseConfig(base))).toBeUndefined();
    expect(
      replicateWebhookUrlFor(parseConfig({ ...base, PUBLIC_BASE_URL: "https://a.example" })),
    ).toBeUndefined();
    expect(
      replicateWebhookUrlFor(parseConfig({ ...base, REPLICATE_WEBHOOK_SECRET: SECRET })),
    ).toBeUndefined();
  });

  it("carry the job id, and Kling's its token", () => {
    const config = parseConfig({
      ...base,
      PUBLIC_BASE_URL: "https://style.example.com/",
      REPLICATE_WEBHOOK_SECRET: SECRET,
    });
    const kling = new URL(klingCallbackUrlFor(config)?.(key) ?? "");
    expect(kling.origin + kling.pathname).toBe("https://style.example.com/api/generation/callback/kling");
    expect(kling.searchParams.get("jobId")).toBe(JOB_ID);
    expect(kling.searchParams.get("token")).toBe(klingCallbackToken("sk", JOB_ID));
    expect(replicateWebhookUrlFor(config)?.(key)).toBe(
      `https://style.example.com/api/generation/callback/replicate?jobId=${JOB_ID}`,
    );
    expect(klingCallbackUrlFor(config)?.("broken")).toBeUndefined();
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
    store = createSqliteStore({ file: path.join(dir, "jobs.db"), ttlSeconds: 3600 });
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
