import type { BlobRef, BlobStore } from "@/lib/blobs/types";
import { type ImageProblem, ImageRejectedError, normalizeImage } from "@/lib/images/normalize-image";
import {
  createOutputFetcher,
  type FetchOutput,
  MAX_OUTPUT_BYTES,
  OutputFetchError,
  type OutputFetchFailure,
} from "@/lib/outputs/fetch-output";
import { type ImageOutput, type OutputSources, ProviderError } from "@/lib/providers/types";

const SENTENCE_BY_FETCH_FAILURE: Record<OutputFetchFailure, string> = {
  refused:
    "The image service sent its result from a place we do not download from, so it was not saved. Please try again.",
  "too-large": `The finished image was larger than the ${MAX_OUTPUT_BYTES / 1024 / 1024} MB we accept, so it was not saved. Please try again.`,
  gone: "The finished image expired before we could save it. Please try again.",
  unavailable: "The finished image could not be downloaded yet.",
  timeout: "The finished image took too long to download.",
};

const SENTENCE_BY_IMAGE_PROBLEM: Record<ImageProblem, string> = {
  unsupported: "The image service returned something that is not an image.",
  heic: "The image service returned an image in a format we cannot read.",
  undecodable: "The image service returned an image that could not be read.",
  too_many_pixels: "The image service returned an image with too many pixels to keep.",
  too_small: "The image service returned an image too small to use.",
};

/** Slow or unreachable is worth another try; anything that broke a rule is not. */
const TRANSIENT: ReadonlySet<OutputFetchFailure> = new Set(["unavailable", "timeout"]);

let defaultFetcher: FetchOutput | undefined;

export interface SaveOutputImageOptions {
  /** Where the provider's output URLs may point (`TaskProvider.outputSources`). */
  sources: OutputSources | undefined;
  /** Key without extension; the stored image is always a JPEG. */
  keyStem: string;
  signal: AbortSignal;
  /** Injectable for tests; the safe fetcher by default. */
  fetchOutput?: FetchOutput;
}

async function download(url: string, options: SaveOutputImageOptions): Promise<Buffer> {
  if (!options.sources) {
    throw new ProviderError("permanent", SENTENCE_BY_FETCH_FAILURE.refused, {
      detail: "output refused: the provider declares no output sources, so no URL of its is fetched",
    });
  }
  defaultFetcher ??= createOutputFetcher();
  try {
    return await (options.fetchOutput ?? defaultFetcher)(url, options.sources, options.signal);
  } catch (error) {
    if (!(error instanceof OutputFetchError)) throw error;
    const kind = TRANSIENT.has(error.failure) ? "transient" : "permanent";
    throw new ProviderError(kind, SENTENCE_BY_FETCH_FAILURE[error.failure], {
      detail: `output ${error.failure}: ${error.reason}`,
      cause: error,
    });
  }
}

/**
 * Keeps a provider's output image: downloads it under the fetcher's rules when it is a URL (its URL
 * expires: Replicate 1 h, Kling 30 days), decodes and re-encodes it exactly as uploads are, and stores
 * the clean JPEG under `keyStem`. Every failure is a ProviderError whose detail goes to the log.
 */
export async function saveOutputImage(
  blobs: BlobStore,
  output: ImageOutput,
  options: SaveOutputImageOptions,
): Promise<BlobRef> {
  const bytes = "bytes" in output ? output.bytes : await download(output.url, options);
  let jpeg: Buffer;
  try {
    jpeg = await normalizeImage(bytes);
  } catch (error) {
    if (!(error instanceof ImageRejectedError)) throw error;
    throw new ProviderError("permanent", SENTENCE_BY_IMAGE_PROBLEM[error.problem], {
      detail: `output image rejected (${error.problem}, ${bytes.length} bytes): ${String(error.cause ?? "")}`,
      cause: error,
    });
  }
  return blobs.put(`${options.keyStem}.jpg`, jpeg, "image/jpeg");
}
