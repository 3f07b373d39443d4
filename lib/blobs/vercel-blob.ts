import { del, list, put } from "@vercel/blob";
import { BLOB_PREFIX_PATTERN, type BlobRef, type BlobStore, type StoredBlob } from "@/lib/blobs/types";
import { ConfigError } from "@/lib/failures";
import { vercelBlobOrigins, vercelBlobStoreId } from "./vercel-blob-origins";

/** Options of the Vercel Blob store. */
export interface VercelBlobStoreOptions {
  /** BLOB_READ_WRITE_TOKEN: `vercel_blob_rw_<storeId>_<secret>`. */
  token: string;
  /**
   * VERCEL_BLOB_API_URL, set only to reach an emulator. @vercel/blob reads that variable itself (it has
   * no option for it); the store needs it to trust the emulator's origin for reads.
   */
  apiUrl?: string;
  /** Largest blob `get` reads into memory (default 10 MB, the upload cap); larger ones throw. */
  maxGetBytes?: number;
  /** Deadline of one operation including the SDK's own retries (default 20 s). */
  timeoutMs?: number;
}

/** A blob larger than the store will read. */
export class BlobTooLargeError extends Error {
  constructor(
    readonly url: string,
    readonly limitBytes: number,
  ) {
    super(`blob at ${url} is larger than ${limitBytes} bytes`);
    this.name = "BlobTooLargeError";
  }
}

const DEFAULT_MAX_GET_BYTES = 10 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 20_000;

/**
 * Runs one SDK call under a deadline. The SDK retries failures with backoff (10 times by default,
 * minutes in all); the abort stops it and the race answers at the deadline even mid-backoff.
 */
async function withDeadline<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // A plain abort() (an AbortError) makes the SDK give up; a TimeoutError reason would be retried.
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`Vercel Blob did not answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a response body, giving up (and cancelling the download) past `limit` bytes. */
async function readCapped(response: Response, url: string, limit: number): Promise<Buffer> {
  if (Number(response.headers.get("content-length") ?? 0) > limit) {
    await response.body?.cancel();
    throw new BlobTooLargeError(url, limit);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (;;) {
    const chunk = await reader?.read();
    if (!chunk || chunk.done) break;
    size += chunk.value.byteLength;
    if (size > limit) {
      await reader?.cancel();
      throw new BlobTooLargeError(url, limit);
    }
    chunks.push(chunk.value);
  }
  return Buffer.concat(chunks);
}

/** Production: public blobs under unguessable pathnames (the service appends a random suffix). */
export function createVercelBlobStore(options: VercelBlobStoreOptions): BlobStore {
  if (!vercelBlobStoreId(options.token))
    throw new ConfigError("BLOB_READ_WRITE_TOKEN is not a Vercel Blob read-write token.");
  const { token } = options;
  const maxGetBytes = options.maxGetBytes ?? DEFAULT_MAX_GET_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const trustedOrigins = new Set(vercelBlobOrigins(options));

  /** The URL when it is one of this store's blobs; anything else is never fetched or deleted. */
  function ownUrl(ref: BlobRef): URL | null {
    try {
      const url = new URL(ref.url);
      return trustedOrigins.has(url.origin) && !url.username && !url.password ? url : null;
    } catch {
      return null;
    }
  }

  return {
    isPublic: true,
    async put(key, bytes, contentType) {
      const blob = await withDeadline(timeoutMs, (abortSignal) =>
        put(key, bytes, { access: "public", contentType, addRandomSuffix: true, token, abortSignal }),
      );
      return { key: blob.pathname, url: blob.url } satisfies BlobRef;
    },
    async get(ref): Promise<StoredBlob | null> {
      const url = ownUrl(ref);
      if (!url) return null;
      // A blob URL never redirects; following one could lead off the store.
      const response = await fetch(url, { redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel();
        return null;
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`Vercel Blob answered HTTP ${response.status} for ${url.pathname}`);
      }
      return {
        bytes: await readCapped(response, url.href, maxGetBytes),
        contentType: response.headers.get("content-type") ?? "application/octet-stream",
      };
    },
    async delete(ref) {
      const url = ownUrl(ref);
      if (url) await withDeadline(timeoutMs, (abortSignal) => del(url.href, { token, abortSignal }));
    },
    async deletePrefix(prefix) {
      if (!BLOB_PREFIX_PATTERN.test(prefix)) throw new Error(`invalid blob prefix: ${prefix}`);
      // Page by page (the API lists at most 1000), each page deleted in one call, until none is left.
      let cursor: string | undefined;
      do {
        const page = await withDeadline(timeoutMs, (abortSignal) =>
          list({ prefix, cursor, limit: 1000, token, abortSignal }),
        );
        const urls = page.blobs.map((blob) => blob.url);
        if (urls.length > 0)
          await withDeadline(timeoutMs, (abortSignal) => del(urls, { token, abortSignal }));
        cursor = page.hasMore ? page.cursor : undefined;
      } while (cursor);
    },
  };
}
