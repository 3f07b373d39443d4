import { notSentError, taskMissingError } from "@/lib/providers/create-outcome";
import { requireSetting } from "@/lib/providers/setting-hint";
import {
  type CheckResult,
  type FaceSwapInput,
  type ImageInput,
  type ImageResult,
  ProviderError,
  type TaskProvider,
} from "@/lib/providers/types";
import { createReplicateClient, type PredictionRequest } from "./client";
import { jpegDataUrl } from "./data-url";
import { classifyPredictionError, REPLICATE_MESSAGES } from "./errors";
import { findPredictionByKey, webhookWithKey } from "./find-prediction";
import { replicateOutputSources } from "./output-sources";
import { firstOutputUrl, type Prediction, predictionTargetFor } from "./schemas";

/** Options of the Replicate face-swap provider (Replicate's own client against the predictions API). */
export interface ReplicateFaceSwapProviderOptions {
  /** `REPLICATE_API_TOKEN`. */
  token: string;
  /** `REPLICATE_API_BASE_URL` without `/v1`, e.g. `https://api.replicate.com`. */
  baseUrl: string;
  /** `REPLICATE_FACESWAP_MODEL`: `owner/name`, `owner/name:<version-id>` or a bare version id. */
  model: string;
  /** The model's input naming the image whose face is replaced (e.g. `input_image`, `target_image`). */
  targetField: string;
  /** The model's input naming the face to put in (e.g. `swap_image`). */
  faceField: string;
  /** Injectable for tests; the global fetch by default. */
  fetch?: typeof fetch;
  /**
   * A webhook URL for this submit, or undefined to rely on polling alone. The adapter adds the
   * submit's key to it (`idempotency_key`), so each delivery, `start` included, names its submit.
   */
  webhookUrl?: (idempotencyKey: string) => string | undefined;
  /** Timeout of each get, list or cancel call (default 20 s). */
  timeoutMs?: number;
  /** Timeout of a create (default 45 s): an answer this late leaves the create's outcome unknown. */
  createTimeoutMs?: number;
}

/** Replicate runs a face swap in a few seconds to a minute; no use polling faster. */
const CHECK_HINT_MS = 2_000;

/** A URL Replicate can read: our storage's (public or signed) when there is one, else a small data URL. */
async function imageFor(image: ImageInput): Promise<string> {
  const url = await image.url();
  if (url !== null) return url;
  const bytes = await image.load();
  try {
    return await jpegDataUrl(bytes);
  } catch (error) {
    throw new ProviderError("permanent", REPLICATE_MESSAGES.badInput, {
      detail: `could not shrink a photo into a data URL: ${String(error)}`,
      cause: error,
    });
  }
}

/** Puts the person's own face back onto the try-on image with a Replicate face-swap model. */
export function createReplicateFaceSwapProvider(
  options: ReplicateFaceSwapProviderOptions,
): TaskProvider<FaceSwapInput, ImageResult> {
  requireSetting("REPLICATE_API_TOKEN", options.token);
  requireSetting("REPLICATE_API_BASE_URL", options.baseUrl);
  const target = predictionTargetFor(options.model);
  const client = createReplicateClient(options);
  const webhookFor = (idempotencyKey: string): string | undefined => {
    const webhook = options.webhookUrl?.(idempotencyKey);
    return webhook ? webhookWithKey(webhook, idempotencyKey) : undefined;
  };

  return {
    name: "replicate-faceswap",
    outputSources: replicateOutputSources(options.baseUrl),

    async submit(input, ctx) {
      let request: PredictionRequest;
      try {
        const [targetImage, face] = await Promise.all([imageFor(input.target), imageFor(input.face)]);
        const webhook = webhookFor(ctx.idempotencyKey);
        request = {
          input: { [options.targetField]: targetImage, [options.faceField]: face },
          ...(webhook ? { webhook, webhook_events_filter: ["completed"] } : {}),
        };
      } catch (error) {
        throw notSentError(error, REPLICATE_MESSAGES.hiccup, "replicate create");
      }
      const prediction = await client.createPrediction(target, request, ctx.signal);
      return { taskId: prediction.id, nextCheckInMs: CHECK_HINT_MS };
    },

    async check(taskId, ctx): Promise<CheckResult<ImageResult>> {
      let prediction: Prediction;
      try {
        prediction = await client.getPrediction(taskId, ctx.signal);
      } catch (error) {
        // Replicate does not know the prediction: checked again before any new (paid) attempt.
        if (error instanceof ProviderError && error.httpStatus === 404)
          throw taskMissingError(REPLICATE_MESSAGES.hiccup, error.detail, error);
        throw error;
      }
      return resultOf(taskId, prediction);
    },

    findTask(idempotencyKey, { signal, since }) {
      const hadWebhook = webhookFor(idempotencyKey) !== undefined;
      return findPredictionByKey({ client, idempotencyKey, hadWebhook, since, signal });
    },

    async cancel(taskId, ctx) {
      try {
        await client.cancelPrediction(taskId, ctx.signal);
      } catch (error) {
        // Nothing to cancel: Replicate no longer knows it (its data is removed after an hour).
        if (error instanceof ProviderError && error.httpStatus === 404) return;
        throw error;
      }
    },
  };
}

/** A prediction's state as the pipeline sees it. */
function resultOf(taskId: string, prediction: Prediction): CheckResult<ImageResult> {
  switch (prediction.status) {
    case "succeeded": {
      const url = firstOutputUrl(prediction.output);
      if (url) return { state: "succeeded", output: { image: { url } } };
      const detail = `replicate prediction ${taskId} succeeded without an image: ${JSON.stringify(prediction.output)?.slice(0, 200)}`;
      return {
        state: "failed",
        error: new ProviderError("permanent", REPLICATE_MESSAGES.noImage, { detail }),
      };
    }
    case "failed": {
      const text =
        typeof prediction.error === "string" ? prediction.error : JSON.stringify(prediction.error ?? "");
      return { state: "failed", error: classifyPredictionError(taskId, text) };
    }
    case "canceled":
    case "aborted": {
      const detail = `replicate prediction ${taskId} ended ${prediction.status}`;
      return {
        state: "failed",
        error: new ProviderError("transient", REPLICATE_MESSAGES.hiccup, { detail }),
      };
    }
    default:
      // starting, processing, or a status added later: keep polling; the step's deadline bounds it.
      return { state: "running", nextCheckInMs: CHECK_HINT_MS };
  }
}
