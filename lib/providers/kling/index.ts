import { notSentError, taskMissingError, withOutcome } from "@/lib/providers/create-outcome";
import { requireSetting } from "@/lib/providers/setting-hint";
import {
  type CheckResult,
  type FindContext,
  type ImageInput,
  type ImageResult,
  type OutputSources,
  ProviderError,
  type StyleInput,
  type TaskProvider,
  type TryOnInput,
} from "@/lib/providers/types";
import { createKlingClient, type KlingClient } from "./client";
import { errorFromTaskFailure, KLING_MESSAGES, KlingApiError } from "./errors";
import { findTaskByExternalId } from "./find-task";
import { klingOutputSources } from "./output-sources";
import type { KlingTask } from "./schemas";

export { createKlingTokenSource, type KlingTokenSource } from "./token";

/** Options of the Kling providers (style image and Kolors virtual try-on). */
export interface KlingProvidersOptions {
  /** `KLING_ACCESS_KEY`: the JWT's issuer. */
  accessKey: string;
  /** `KLING_SECRET_KEY`: the JWT's HMAC key; never leaves this process. */
  secretKey: string;
  /** `KLING_API_BASE_URL`, e.g. `https://api-singapore.klingai.com`. */
  baseUrl: string;
  /** Image generation model, e.g. `kling-v1-5`. */
  styleModel: string;
  /** Try-on model, e.g. `kolors-virtual-try-on-v1-5`. */
  tryonModel: string;
  fetch?: typeof fetch;
  /** Where Kling should post status changes for a task, or undefined for none (polling still works). */
  callbackUrl?: (idempotencyKey: string) => string | undefined;
  /** Timeout of each query or list call (default 20 s). */
  timeoutMs?: number;
  /** Timeout of a create (default 45 s): an answer this late leaves the create's outcome unknown. */
  createTimeoutMs?: number;
  /** The clock the JWT is signed by (ms epoch); tests pass a skewed one. */
  now?: () => number;
}

const STYLE_PATH = "/v1/images/generations";
const TRYON_PATH = "/v1/images/kolors-virtual-try-on";
const MAX_PROMPT_CHARS = 2_500;
/**
 * A create refused with 1201 may mean "this external_task_id exists": the submit that used it began
 * at most this long ago (an attempt's key is reused only while its step runs, minutes).
 */
const DUPLICATE_LOOKBACK_MS = 60 * 60_000;

interface KlingTaskKind<In> {
  name: string;
  path: string;
  /** How long a task of this kind usually takes between meaningful changes. */
  pollMs: number;
  buildBody(input: In): Promise<Record<string, unknown>>;
}

/** Kling takes an image as a URL it can fetch, or as raw base64 with no `data:` prefix. */
async function imageField(image: ImageInput): Promise<string> {
  return (await image.url()) ?? (await image.load()).toString("base64");
}

const describe = (error: unknown): string =>
  error instanceof ProviderError ? (error.detail ?? error.message) : String(error);

function resultOf(task: KlingTask, pollMs: number): CheckResult<ImageResult> {
  switch (task.task_status) {
    case "succeed": {
      const url = task.task_result?.images?.[0]?.url;
      if (url) return { state: "succeeded", output: { image: { url } } };
      return {
        state: "failed",
        error: new ProviderError("permanent", KLING_MESSAGES.noImage, {
          detail: `Kling task ${task.task_id} succeeded without task_result.images[0].url`,
        }),
      };
    }
    case "failed":
      return { state: "failed", error: errorFromTaskFailure(task.task_id, task.task_status_msg) };
    default:
      // "submitted", "processing", or a status Kling adds later: keep polling until the step's deadline.
      return { state: "running", nextCheckInMs: pollMs };
  }
}

/**
 * 1201 is Kling's answer to bad parameters, a reused `external_task_id` among them; its wording is
 * not documented, so the code alone sends the submit to a lookup, and the lookup decides.
 */
const maybeDuplicateKey = (error: unknown): error is KlingApiError =>
  error instanceof KlingApiError && error.code === 1201;

function createKlingTaskProvider<In>(
  client: KlingClient,
  kind: KlingTaskKind<In>,
  callbackUrl: KlingProvidersOptions["callbackUrl"],
  outputSources: OutputSources,
): TaskProvider<In, ImageResult> {
  const findTask = (idempotencyKey: string, { signal, since }: FindContext) =>
    findTaskByExternalId({ client, path: kind.path, idempotencyKey, since, signal });

  /** A 1201 on create: adopt the task that already has this key, or report the refusal as it was. */
  async function adoptDuplicate(error: KlingApiError, idempotencyKey: string, signal: AbortSignal) {
    let found: { taskId: string } | null;
    try {
      found = await findTask(idempotencyKey, { signal, since: Date.now() - DUPLICATE_LOOKBACK_MS });
    } catch (lookupError) {
      // Refused either way (nothing new was made), but whether an earlier task holds the key is open.
      throw new ProviderError("transient", KLING_MESSAGES.trouble, {
        detail: `${error.detail}; the lookup of its external_task_id failed: ${describe(lookupError)}`,
        outcome: "not_created",
        cause: lookupError,
      });
    }
    if (found) return found;
    throw withOutcome(error, "not_created");
  }

  return {
    name: kind.name,
    outputSources,

    async submit(input, ctx) {
      let body: Record<string, unknown>;
      try {
        const callback = callbackUrl?.(ctx.idempotencyKey);
        body = {
          ...(await kind.buildBody(input)),
          external_task_id: ctx.idempotencyKey,
          ...(callback ? { callback_url: callback } : {}),
        };
      } catch (error) {
        throw notSentError(error, KLING_MESSAGES.trouble, kind.name);
      }
      try {
        const task = await client.createTask(kind.path, body, ctx.signal);
        return { taskId: task.task_id, nextCheckInMs: kind.pollMs };
      } catch (error) {
        if (!maybeDuplicateKey(error)) throw error;
        const found = await adoptDuplicate(error, ctx.idempotencyKey, ctx.signal);
        return { ...found, nextCheckInMs: kind.pollMs };
      }
    },

    async check(taskId, ctx) {
      let task: KlingTask;
      try {
        task = await client.getTask(kind.path, taskId, ctx.signal);
      } catch (error) {
        // Kling does not know the task: checked again before any new (paid) attempt.
        if (error instanceof ProviderError && error.httpStatus === 404)
          throw taskMissingError(KLING_MESSAGES.trouble, error.detail, error);
        throw error;
      }
      return resultOf(task, kind.pollMs);
    },

    // No cancel: Kling documents no API to cancel a task; it runs to its end.
    findTask,
  };
}

/**
 * Kling's style-image and virtual try-on providers. Both share one HTTP client, so one cached JWT.
 * Output images are Kling URLs (kept 30 days); the pipeline copies them into our storage.
 */
export function createKlingProviders(options: KlingProvidersOptions): {
  style: TaskProvider<StyleInput, ImageResult>;
  tryon: TaskProvider<TryOnInput, ImageResult>;
} {
  requireSetting("KLING_ACCESS_KEY", options.accessKey);
  requireSetting("KLING_SECRET_KEY", options.secretKey);
  requireSetting("KLING_API_BASE_URL", options.baseUrl);
  const client = createKlingClient(options);
  const outputSources = klingOutputSources(options.baseUrl);
  return {
    style: createKlingTaskProvider<StyleInput>(
      client,
      {
        name: "kling-style",
        path: STYLE_PATH,
        pollMs: 3_000,
        // No negative_prompt: Kling refuses it together with `image`.
        buildBody: async ({ person, prompt }) => ({
          model_name: options.styleModel,
          prompt: Array.from(prompt).slice(0, MAX_PROMPT_CHARS).join(""),
          image: await imageField(person),
          // Required by kling-v1-5 whenever `image` is set; "subject" keeps the whole person.
          image_reference: "subject",
          aspect_ratio: "3:4",
          n: 1,
        }),
      },
      options.callbackUrl,
      outputSources,
    ),
    tryon: createKlingTaskProvider<TryOnInput>(
      client,
      {
        name: "kling-tryon",
        path: TRYON_PATH,
        pollMs: 5_000,
        buildBody: async ({ styled, garment }) => ({
          model_name: options.tryonModel,
          human_image: await imageField(styled),
          cloth_image: await imageField(garment),
        }),
      },
      options.callbackUrl,
      outputSources,
    ),
  };
}
