import {
  type CheckResult,
  type FaceSwapInput,
  type ImageInput,
  type ImageResult,
  ProviderError,
  type TaskProvider,
} from "@/lib/providers/types";
import { createReplicateClient, ReplicateHttpError } from "./client";
import { jpegDataUrl } from "./data-url";
import { classifyPredictionError, REPLICATE_MESSAGES } from "./errors";
import { replicateOutputSources } from "./output-sources";
import { firstOutputUrl, predictionRouteFor } from "./schemas";

/** Options of the Replicate face-swap provider (plain fetch against the predictions API). */
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
  /** A webhook URL for this submit, or undefined to rely on polling alone. */
  webhookUrl?: (idempotencyKey: string) => string | undefined;
  /** Timeout of each API call (default 20 s). */
  timeoutMs?: number;
}

/** Replicate runs a face swap in a few seconds to a minute; no use polling faster. */
const CHECK_HINT_MS = 2_000;

/** A URL Replicate can read: our public URL when there is one, else a small data URL. */
async function imageFor(image: ImageInput): Promise<string> {
  if (image.publicUrl !== null) return image.publicUrl;
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

const unwrap = (error: unknown): unknown =>
  error instanceof ReplicateHttpError ? error.providerError : error;

/** Puts the person's own face back onto the try-on image with a Replicate face-swap model. */
export function createReplicateFaceSwapProvider(
  options: ReplicateFaceSwapProviderOptions,
): TaskProvider<FaceSwapInput, ImageResult> {
  if (!options.token) throw new Error("REPLICATE_API_TOKEN is not set");
  if (!options.baseUrl) throw new Error("REPLICATE_API_BASE_URL is not set");
  const route = predictionRouteFor(options.model);
  const requestPrediction = createReplicateClient({
    token: options.token,
    baseUrl: options.baseUrl,
    model: options.model,
    fetch: options.fetch ?? fetch,
    timeoutMs: options.timeoutMs ?? 20_000,
  });

  return {
    name: "replicate-faceswap",
    outputSources: replicateOutputSources(options.baseUrl),

    async submit(input, ctx) {
      const [target, face] = await Promise.all([imageFor(input.target), imageFor(input.face)]);
      const webhook = options.webhookUrl?.(ctx.idempotencyKey);
      const body = {
        ...(route.version ? { version: route.version } : {}),
        input: { [options.targetField]: target, [options.faceField]: face },
        ...(webhook ? { webhook, webhook_events_filter: ["completed"] } : {}),
      };
      try {
        const prediction = await requestPrediction("POST", route.path, body, ctx.signal);
        return { taskId: prediction.id, nextCheckInMs: CHECK_HINT_MS };
      } catch (error) {
        throw unwrap(error);
      }
    },

    async check(taskId, ctx): Promise<CheckResult<ImageResult>> {
      let prediction: Awaited<ReturnType<typeof requestPrediction>>;
      try {
        prediction = await requestPrediction(
          "GET",
          `/v1/predictions/${encodeURIComponent(taskId)}`,
          undefined,
          ctx.signal,
        );
      } catch (error) {
        // A prediction Replicate does not know can never finish: fail the task so the step resubmits.
        if (error instanceof ReplicateHttpError && error.status === 404) {
          const detail = error.providerError.detail;
          return {
            state: "failed",
            error: new ProviderError("transient", REPLICATE_MESSAGES.hiccup, { detail }),
          };
        }
        throw unwrap(error);
      }
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
    },
  };
}
