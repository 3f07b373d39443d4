import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { BLOB_PREFIX_PATTERN, type BlobRef, type BlobStore } from "@/lib/blobs/types";

/** Keys are path-like: segments of safe characters, no dot-segments, an image extension. */
const KEY_PATTERN = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*\.(?:jpg|png|webp)$/;

const CONTENT_TYPE_BY_EXTENSION: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".png": "image/png",
  ".webp": "image/webp",
};

export function isValidBlobKey(key: string): boolean {
  return KEY_PATTERN.test(key) && key.length <= 300;
}

export function contentTypeForKey(key: string): string {
  return CONTENT_TYPE_BY_EXTENSION[path.extname(key)] ?? "application/octet-stream";
}

/** The URL path at which the files route serves a local blob. */
export const LOCAL_BLOB_ROUTE = "/api/files/";

/** Embedded mode: files under `dir`, served by `GET /api/files/…`. */
export function createLocalBlobStore(options: { dir: string }): BlobStore {
  const root = path.resolve(options.dir);

  function fileFor(key: string): string {
    const file = path.resolve(root, key);
    // The pattern already forbids "..", this is the belt to its braces.
    if (!isValidBlobKey(key) || !file.startsWith(root + path.sep))
      throw new Error(`invalid blob key: ${key}`);
    return file;
  }

  return {
    access: "local",
    viewUrl: async (ref) => ref.url,
    fetchUrl: async () => null,
    async put(key, bytes) {
      const file = fileFor(key);
      await mkdir(path.dirname(file), { recursive: true });
      const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(temp, bytes, { flag: "wx" });
      await rename(temp, file);
      return { key, url: `${LOCAL_BLOB_ROUTE}${key}` } satisfies BlobRef;
    },
    async get(ref) {
      if (!isValidBlobKey(ref.key)) return null;
      try {
        return { bytes: await readFile(fileFor(ref.key)), contentType: contentTypeForKey(ref.key) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw error;
      }
    },
    async delete(ref) {
      if (isValidBlobKey(ref.key)) await rm(fileFor(ref.key), { force: true });
    },
    async deletePrefix(prefix) {
      if (!BLOB_PREFIX_PATTERN.test(prefix)) throw new Error(`invalid blob prefix: ${prefix}`);
      // Keys are folder/file, so a job's prefix is exactly its folder.
      await rm(path.join(root, prefix.slice(0, -1)), { recursive: true, force: true });
    },
    async deleteStoredBefore(prefix, before) {
      if (!BLOB_PREFIX_PATTERN.test(prefix)) throw new Error(`invalid blob prefix: ${prefix}`);
      const folder = path.join(root, prefix.slice(0, -1));
      const names = await readdir(folder, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return [];
        throw error;
      });
      let removed = 0;
      for (const name of names) {
        const file = path.join(folder, name);
        const info = await stat(file).catch(() => null);
        if (!info?.isFile() || info.mtimeMs >= before) continue;
        await rm(file, { force: true });
        removed++;
      }
      return removed;
    },
  };
}
