import { handleUpload } from "@vercel/blob/client";
import { z } from "zod";
import type { AppConfig } from "@/lib/config";
import { AppError } from "@/lib/errors";
import { readJsonBody } from "@/lib/intake/json-body";
import type { JobStore } from "@/lib/jobs/job-store";
import { ALLOWED_UPLOAD_TYPES } from "@/lib/start-rules";
import {
  directUploadsDisabled,
  isUploadPathname,
  MAX_UPLOAD_BYTES,
  UPLOAD_FOLDER,
  UPLOAD_TOKEN_TTL_MS,
} from "@/lib/uploads/upload-rules";

/** What `upload()` from @vercel/blob/client posts to its token route. No completion callback is used. */
const tokenRequestSchema = z.object({
  type: z.literal("blob.generate-client-token"),
  payload: z.object({
    pathname: z.string().max(1000),
    clientPayload: z.string().max(4096).nullish(),
    multipart: z.boolean().optional(),
  }),
});

/** What issuing an upload token needs: the store its rate limit counts in, and the upload settings. */
interface UploadTokenDeps {
  store: JobStore;
  config: Pick<AppConfig, "startRateLimit" | "blobs" | "uploadDeadlines">;
}

/** Two photos a look, and a retry of each: four tokens per started look the rate limit allows. */
const TOKENS_PER_LOOK = 4;

async function enforceTokenRateLimit(deps: UploadTokenDeps, clientKey: string): Promise<void> {
  const { max, windowSeconds } = deps.config.startRateLimit;
  if (max === 0) return;
  const { count, resetInMs } = await deps.store.hit(`upload-token:${clientKey}`, windowSeconds * 1000);
  if (count > max * TOKENS_PER_LOOK) {
    throw new AppError(
      "rate_limited",
      "You have uploaded many photos in a short time. Please wait a few minutes.",
      {
        headers: { "Retry-After": String(Math.max(1, Math.ceil(resetInMs / 1000))) },
      },
    );
  }
}

/** The only tokens issued: one image under uploads/, at most 10 MB, a random suffix, short-lived. */
function tokenOptionsFor(pathname: string) {
  const name = pathname.startsWith(UPLOAD_FOLDER) ? pathname.slice(UPLOAD_FOLDER.length) : "";
  if (!/^[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9]{1,10}$/.test(name)) {
    throw new AppError("invalid_field", "A photo is uploaded as one file named like uploads/photo.jpg.");
  }
  if (!isUploadPathname(pathname)) {
    throw new AppError("unsupported_image_type", "Only JPEG, PNG or WebP photos can be uploaded.");
  }
  return {
    allowedContentTypes: ALLOWED_UPLOAD_TYPES,
    maximumSizeInBytes: MAX_UPLOAD_BYTES,
    addRandomSuffix: true,
    allowOverwrite: false,
    validUntil: Date.now() + UPLOAD_TOKEN_TTL_MS,
  };
}

/** The token route behind `upload()`: answers `{ type, clientToken }` for an allowed upload. */
export async function issueUploadToken(deps: UploadTokenDeps, request: Request, clientKey: string) {
  if (deps.config.blobs.kind !== "vercel-blob") throw directUploadsDisabled();
  const parsed = tokenRequestSchema.safeParse(
    await readJsonBody(request, 16 * 1024, deps.config.uploadDeadlines),
  );
  if (!parsed.success) {
    throw new AppError("invalid_request", "This is not an upload token request.", { cause: parsed.error });
  }
  const { pathname, clientPayload, multipart } = parsed.data.payload;
  const options = tokenOptionsFor(pathname);
  await enforceTokenRateLimit(deps, clientKey);
  return handleUpload({
    token: deps.config.blobs.token,
    request,
    body: {
      type: "blob.generate-client-token",
      payload: { pathname, clientPayload: clientPayload ?? null, multipart: multipart ?? false },
    },
    onBeforeGenerateToken: async () => options,
  });
}
