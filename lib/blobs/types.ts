/** Where job images live: local files in embedded mode, Vercel Blob in production. */

/** A prefix deletePrefix accepts: one folder of safe characters and its slash, never the whole store. */
export const BLOB_PREFIX_PATTERN = /^[A-Za-z0-9_-]+\/$/;

/** A stored image: its key in our storage and the URL the browser loads it from. */
export interface BlobRef {
  key: string;
  url: string;
}

export interface StoredBlob {
  bytes: Buffer;
  contentType: string;
}

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
  /** True when `ref.url` can be fetched from the public internet (providers may take it directly). */
  readonly isPublic: boolean;
}
