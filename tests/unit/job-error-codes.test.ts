import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_CREATES_PER_STEP } from "@/lib/jobs/create-budget";
import { errorCodeOf } from "@/lib/jobs/error-code";
import { toPublicJob } from "@/lib/jobs/public-view";
import { errorFromAnswer, errorFromTaskFailure } from "@/lib/providers/kling/errors";
import { classifyResponseFailure } from "@/lib/providers/openai/errors";
import type { ResponseSnapshot } from "@/lib/providers/openai/schemas";
import { classifyHttpFailure, classifyPredictionError } from "@/lib/providers/replicate/errors";
import { ProviderError } from "@/lib/providers/types";
import { AdvanceHarness } from "@/tests/support/advance-harness";
import { refused, type ScriptedProviders } from "@/tests/support/scripted-provider";

const klingAnswer = (httpStatus: number, code: number) =>
  errorFromAnswer({
    operation: "POST /v1/images/generations",
    httpStatus,
    code,
    message: "scripted",
    requestId: "r",
    retryAfterMs: undefined,
  });
const replicateHttp = (status: number) =>
  classifyHttpFailure({
    status,
    headers: new Headers(),
    request: "POST /v1/predictions",
    bodyExcerpt: "{}",
    model: "m",
  });
const openaiFailed = (code: string) =>
  classifyResponseFailure({
    id: "resp_1",
    status: "failed",
    error: { code, message: "x" },
  } as ResponseSnapshot);

describe("each vendor's documented failure codes, as the job's errorCode", () => {
  const cases: Array<[string, ProviderError, string]> = [
    [
      "OpenAI image_content_policy_violation",
      openaiFailed("image_content_policy_violation"),
      "content_policy",
    ],
    ["OpenAI invalid_image", openaiFailed("invalid_image"), "unusable_photo"],
    [
      "OpenAI incomplete: content_filter",
      classifyResponseFailure({
        id: "resp_2",
        status: "incomplete",
        incomplete_details: { reason: "content_filter" },
      } as ResponseSnapshot),
      "content_policy",
    ],
    ["Kling 1301 content policy", klingAnswer(400, 1301), "content_policy"],
    ["Kling 1102 no balance", klingAnswer(429, 1102), "provider_unavailable"],
    ["Kling 1001 auth", klingAnswer(401, 1001), "provider_unavailable"],
    ["Kling 1201 bad parameters", klingAnswer(400, 1201), "internal"],
    [
      "Kling task failed by moderation",
      errorFromTaskFailure("t1", "risk control: sensitive content"),
      "content_policy",
    ],
    ["Replicate NSFW", classifyPredictionError("p1", "NSFW content detected"), "content_policy"],
    ["Replicate no face", classifyPredictionError("p2", "No face detected in swap_image"), "unusable_photo"],
    ["Replicate 402 no credit", replicateHttp(402), "provider_unavailable"],
    ["Replicate 422 bad input", replicateHttp(422), "internal"],
  ];
  for (const [what, error, code] of cases) {
    it(`${what} → ${code}`, () => {
      expect(error.kind).toBe("permanent");
      expect(errorCodeOf(error)).toBe(code);
    });
  }

  it("a failure nobody classified is internal", () => {
    expect(errorCodeOf(new ProviderError("permanent", "No."))).toBe("internal");
  });
});

describe("every place a job fails sets its errorCode", () => {
  let h: AdvanceHarness;
  let providers: ScriptedProviders;
  beforeEach(async () => {
    h = await AdvanceHarness.start();
    providers = h.providers;
  });
  afterEach(async () => h.close());

  it("a vendor's content refusal: content_policy, in the public view too", async () => {
    await h.createJob();
    const error = new ProviderError("permanent", "Refused.", { reason: "content_policy" });
    providers.advice.onCheck({ state: "failed", error });
    const job = await h.runToEnd();
    expect(job).toMatchObject({ status: "failed", errorCode: "content_policy" });
    expect(toPublicJob(job).errorCode).toBe("content_policy");
  });

  it("an unusable photo: unusable_photo", async () => {
    await h.createJob();
    providers.advice.onSubmit(new ProviderError("permanent", "Bad photo.", { reason: "unusable_photo" }));
    expect(await h.runToEnd()).toMatchObject({ status: "failed", errorCode: "unusable_photo" });
  });

  it("retries that ran out: provider_unavailable", async () => {
    await h.createJob();
    providers.advice.onSubmit(refused("Busy."));
    expect(await h.runToEnd()).toMatchObject({ status: "failed", errorCode: "provider_unavailable" });
  });

  it("a step past its deadline: timed_out", async () => {
    await h.createJob();
    providers.advice.onCheck({ state: "running" });
    expect(await h.runToEnd({}, 500)).toMatchObject({ status: "failed", errorCode: "timed_out" });
  });

  it("the create cap refusing another create: provider_unavailable", async () => {
    await h.createJob();
    const current = (await h.read()).current;
    await h.store.compareAndSet(
      { ...(await h.read()), current: current && { ...current, creates: MAX_CREATES_PER_STEP } },
      0,
    );
    expect(await h.runToEnd()).toMatchObject({ status: "failed", errorCode: "provider_unavailable" });
    expect(providers.advice.submits).toHaveLength(0);
  });

  it("a permanent failure with no reason: internal", async () => {
    await h.createJob();
    providers.advice.onCheck({ state: "failed", error: new ProviderError("permanent", "No advice.") });
    expect(await h.runToEnd()).toMatchObject({ status: "failed", errorCode: "internal" });
  });
});
