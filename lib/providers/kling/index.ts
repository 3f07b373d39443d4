import {
  type CheckContext,
  type CheckResult,
  type ImageInput,
  type ImageResult,
  type OutputSources,
  ProviderError,
  type StyleInput,
  type TaskProvider,
  type TryOnInput,
} from "@/lib/providers/types";
import { createKlingClient, type KlingClient } from "./client";
import { errorFromTaskFailure, KLING_SENTENCES, KlingApiError, transientError } from "./errors";
import { klingOutputSources } from "./output-sources";
import { type KlingTask, klingTaskSchema, parseTaskList } from "./schemas";

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
}

const STYLE_PATH = "/v1/images/generations";
const TRYON_PATH = "/v1/images/kolors-virtual-try-on";
const MAX_PROMPT_CHARS = 2_500;
/** findTask reads the newest tasks only: a lost answer is recovered within minutes, not days. */
const LOOKUP_PAGE_SIZE = 500;

interface KlingTaskKind<In> {
  name: string;
  path: string;
  /** How long a task of this kind usually takes between meaningful changes. */
  pollMs: number;
  buildBody(input: In): Promise<Record<string, unknown>>;
}

/** Kling takes an image as a URL it can fetch, or as raw base64 with no `data:` prefix. */
async function imageField(image: ImageInput): Promise<string> {
  return image.publicUrl ?? (await image.load()).toString("base64");
}

function parseTask(data: unknown, what: string): KlingTask {
  const parsed = klingTaskSchema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
  throw transientError(KLING_SENTENCES.unreadable, `Kling ${what}: unexpected task data (${issues})`);
}

function resultOf(task: KlingTask, pollMs: number): CheckResult<ImageResult> {
  switch (task.task_status) {
    case "succeed": {
      const url = task.task_result?.images?.[0]?.url;
      if (url) return { state: "succeeded", output: { image: { url } } };
      return {
        state: "failed",
        error: new ProviderError("permanent", KLING_SENTENCES.noImage, {
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

/** Kling refuses a reused external_task_id (it must be unique per account). */
function isDuplicateKey(error: unknown): error is KlingApiError {
  return (
    error instanceof KlingApiError && error.code === 1201 && /external_task_id/i.test(error.vendorMessage)
  );
}

/** The lookup endpoint missing or refusing our query means "cannot tell", not a failed job. */
function isLookupUnsupported(error: unknown): boolean {
  if (!(error instanceof KlingApiError)) return false;
  const badRequest = error.code !== undefined && error.code >= 1200 && error.code <= 1203;
  return error.httpStatus === 404 || badRequest;
}

function createKlingTaskProvider<In>(
  client: KlingClient,
  kind: KlingTaskKind<In>,
  callbackUrl: KlingProvidersOptions["callbackUrl"],
  outputSources: OutputSources,
): TaskProvider<In, ImageResult> {
  async function findTask(idempotencyKey: string, ctx: CheckContext): Promise<{ taskId: string } | null> {
    let data: unknown;
    try {
      const query = `pageNum=1&pageSize=${LOOKUP_PAGE_SIZE}`;
      data = await client.request({ method: "GET", path: `${kind.path}?${query}`, signal: ctx.signal });
    } catch (error) {
      if (isLookupUnsupported(error)) return null;
      throw error;
    }
    const task = parseTaskList(data).find((t) => t.task_info?.external_task_id === idempotencyKey);
    return task ? { taskId: task.task_id } : null;
  }

  return {
    name: kind.name,
    outputSources,

    async submit(input, ctx) {
      const callback = callbackUrl?.(ctx.idempotencyKey);
      const body = {
        ...(await kind.buildBody(input)),
        external_task_id: ctx.idempotencyKey,
        ...(callback ? { callback_url: callback } : {}),
      };
      try {
        const data = await client.request({ method: "POST", path: kind.path, body, signal: ctx.signal });
        return { taskId: parseTask(data, `POST ${kind.path}`).task_id, nextCheckInMs: kind.pollMs };
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        // This key was accepted before and its answer lost: adopt that task rather than pay twice.
        const found = await findTask(ctx.idempotencyKey, ctx);
        if (found) return { ...found, nextCheckInMs: kind.pollMs };
        throw new ProviderError("permanent", KLING_SENTENCES.generic, {
          detail: `${error.detail}; no task with this external_task_id could be found`,
          cause: error,
        });
      }
    },

    async check(taskId, ctx) {
      const path = `${kind.path}/${encodeURIComponent(taskId)}`;
      const data = await client.request({ method: "GET", path, signal: ctx.signal });
      return resultOf(parseTask(data, `GET ${kind.path}/{task_id}`), kind.pollMs);
    },

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
