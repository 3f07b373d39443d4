import type { BlobRef, BlobStore } from "@/lib/blobs/types";
import { sniffImageType } from "@/lib/images/normalize-image";
import { type ImageOutput, ProviderError } from "@/lib/providers/types";

const CONTENT_TYPE_BY_IMAGE_TYPE = { jpeg: "image/jpeg", png: "image/png", webp: "image/webp" } as const;
const EXTENSION_BY_IMAGE_TYPE = { jpeg: "jpg", png: "png", webp: "webp" } as const;
const DOWNLOAD_TIMEOUT_MS = 20_000;

/** Downloads a provider's result (its URL expires: Replicate 1 h, OpenAI ~10 min, Kling 30 days). */
async function downloadResult(url: string, signal: AbortSignal): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS)]),
    });
  } catch (error) {
    throw new ProviderError("transient", "The finished image could not be downloaded yet.", {
      detail: `download failed: ${String(error)}`,
      cause: error,
    });
  }
  if (response.status === 404 || response.status === 410 || response.status === 403) {
    throw new ProviderError(
      "permanent",
      "The finished image expired before we could save it. Please try again.",
      {
        detail: `download of result answered HTTP ${response.status}`,
      },
    );
  }
  if (!response.ok) {
    throw new ProviderError("transient", "The finished image could not be downloaded yet.", {
      detail: `download of result answered HTTP ${response.status}`,
    });
  }
  return Buffer.from(await response.arrayBuffer());
}

/**
 * Copies a provider's output image into our own storage under `keyStem` (extension added from the
 * content), so the job never points at a URL that will expire.
 */
export async function copyImageOutput(
  blobs: BlobStore,
  output: ImageOutput,
  keyStem: string,
  signal: AbortSignal,
): Promise<BlobRef> {
  const bytes = "bytes" in output ? output.bytes : await downloadResult(output.url, signal);
  const type = sniffImageType(bytes);
  if (!type) {
    throw new ProviderError("permanent", "The image service returned something that is not an image.", {
      detail: `result is not a JPEG/PNG/WebP (${bytes.length} bytes)`,
    });
  }
  return blobs.put(`${keyStem}.${EXTENSION_BY_IMAGE_TYPE[type]}`, bytes, CONTENT_TYPE_BY_IMAGE_TYPE[type]);
}
