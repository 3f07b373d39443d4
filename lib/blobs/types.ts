/** Where job images live: local files in embedded mode, Vercel Blob (public or private store) in production. */

/** A prefix deletePrefix accepts: one folder of safe characters and its slash, never the whole store. */
export const BLOB_PREFIX_PATTERN = /^[A-Za-z0-9_-]+\/$/;

/** A stored image: its key in our storage and its address there (never shown as is for a private store). */
export interface BlobRef {
  key: string;
  url: string;
}

export interface StoredBlob {
  bytes: Buffer;
  contentType: string;
}

/**
 * Who can read `ref.url` unaided. `local`: nobody outside this app (our files route serves it);
 * `public`: anyone holding the URL, for ever; `private`: only with the store's credentials, so the
 * browser and the vendors get signed URLs that expire.
 */
export type BlobAccess = "local" | "public" | "private";

export interface BlobStore {
  /** Stores bytes under `key` (never overwriting another job's file) and returns where it lives. */
  put(key: string, bytes: Buffer, contentType: string): Promise<BlobRef>;
  /** Reads a stored blob back, or null when there is none. */
  get(ref: BlobRef): Promise<StoredBlob | null>;
  /** Removes a blob; used to undo the inputs of a job that could not be created. */
  delete(ref: BlobRef): Promise<void>;
  /**
   * Removes every blob whose key starts with `prefix` (a job's folder, `<jobId>/`): a deleted or
   * expired look leaves no file. Idempotent; a prefix that is not one folder name and a slash is refused.
   */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * Removes every blob under `prefix` (the same one-folder form) stored before `before` (ms epoch):
   * direct uploads no start ever claimed. Answers how many it removed.
   */
  deleteStoredBefore(prefix: string, before: number): Promise<number>;
  readonly access: BlobAccess;
  /**
   * The URL the browser loads the image from: our files route (local), the blob's URL (public), or a
   * signed URL that expires soon and names this one blob (private). The status view asks afresh on
   * every poll, so a page always holds a live one.
   */
  viewUrl(ref: BlobRef): Promise<string>;
  /**
   * A URL a vendor on the internet can fetch the blob from until `validUntil` (ms epoch), and for a
   * private store no longer; null for local files, which the internet cannot reach (send the bytes).
   */
  fetchUrl(ref: BlobRef, validUntil: number): Promise<string | null>;
}
