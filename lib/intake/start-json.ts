import { z } from "zod";
import type { BlobRef, BlobStore, StoredBlob } from "@/lib/blobs/types";
import { BlobTooLargeError } from "@/lib/blobs/vercel-blob";
import type { AppConfig } from "@/lib/config";
import { CONSENT_REQUIRED_MESSAGE, CONSENT_VERSION, isConsent } from "@/lib/consent";
import { AppError } from "@/lib/errors";
import { readJsonBody } from "@/lib/intake/json-body";
import { parseOccasion } from "@/lib/intake/occasion";
import { fingerprintOf, type StartRequest } from "@/lib/jobs/start-request";
import { directUploadsEnabled, isUploadPathname, MAX_UPLOAD_BYTES } from "@/lib/uploads/upload-rules";

/** What reading a JSON start needs: the blob store the uploads are in, and the upload settings. */
export interface JsonStartDeps {
  blobs: BlobStore;
  config: Pick<AppConfig, "blobs" | "uploadDeadlines">;
}

/** A start request after direct uploads: the photos as URLs of blobs the browser put in our store. */
const startJsonSchema = z.object({
  human_image_url: z.string().trim().max(2048).optional(),
  garment_image_url: z.string().trim().max(2048).optional(),
  occasion: z.string().optional(),
  consent: z.union([z.boolean(), z.string().max(16)]).optional(),
});

const URL_FIELDS = {
  human_image_url: "Your photo",
  garment_image_url: "The garment photo",
} as const;
type UrlField = keyof typeof URL_FIELDS;

/** The request startJob takes, and the uploads it names (redundant once the job has its copies). */
export interface StartFromUploads {
  start: StartRequest;
  uploads: BlobRef[];
}

function notOurUpload(field: UrlField): AppError {
  return new AppError(
    "invalid_field",
    `${URL_FIELDS[field]} (${field}) is not a photo uploaded to this app. Please upload it again.`,
  );
}

function tooLarge(field: UrlField, cause?: unknown): AppError {
  return new AppError(
    "file_too_large",
    `${URL_FIELDS[field]} is larger than 10 MB. Please choose a smaller image.`,
    { cause },
  );
}

/** A ref for an upload of ours: a URL whose path is one file under uploads/. The store checks the host. */
function uploadRefOf(field: UrlField, raw: string): BlobRef {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw notOurUpload(field);
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(url.pathname.slice(1));
  } catch {
    throw notOurUpload(field);
  }
  if (url.search || url.hash || !isUploadPathname(pathname)) throw notOurUpload(field);
  return { key: pathname, url: url.href };
}

/** Downloads one upload through the BlobStore, which refuses (never fetches) a URL outside our store. */
async function download(deps: JsonStartDeps, field: UrlField, ref: BlobRef): Promise<Buffer> {
  let blob: StoredBlob | null;
  try {
    blob = await deps.blobs.get(ref);
  } catch (error) {
    if (error instanceof BlobTooLargeError) throw tooLarge(field, error);
    throw new AppError(
      "store_unavailable",
      "Your uploaded photos could not be read right now. Please try again in a moment.",
      { cause: error, headers: { "Retry-After": "5" } },
    );
  }
  if (!blob) throw notOurUpload(field);
  if (blob.bytes.length > MAX_UPLOAD_BYTES) throw tooLarge(field);
  return blob.bytes;
}

/**
 * Reads a JSON start request `{ human_image_url, garment_image_url, occasion, consent: true }`: the same codes as the
 * multipart form for missing fields, each URL checked to be an upload in our store. The photos are
 * downloaded (at most 10 MB each) only when startJob asks for them, once the start is allowed, and
 * then validated and normalised like uploaded files.
 */
export async function readStartJson(deps: JsonStartDeps, request: Request): Promise<StartFromUploads> {
  if (!directUploadsEnabled(deps)) {
    throw new AppError(
      "unsupported_media_type",
      "Send the photos and the occasion as a multipart/form-data form.",
    );
  }
  const parsed = startJsonSchema.safeParse(
    await readJsonBody(request, 16 * 1024, deps.config.uploadDeadlines),
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError("invalid_field", `${issue?.path.join(".") || "The request"}: ${issue?.message}`, {
      cause: parsed.error,
    });
  }
  const body = parsed.data;
  if (!body.human_image_url) throw new AppError("missing_human_image", "Please add a photo of yourself.");
  if (!body.garment_image_url)
    throw new AppError("missing_garment_image", "Please add a photo of the garment.");
  const occasion = parseOccasion(body.occasion);
  if (!isConsent(body.consent)) throw new AppError("consent_required", CONSENT_REQUIRED_MESSAGE);

  const uploads = [
    uploadRefOf("human_image_url", body.human_image_url),
    uploadRefOf("garment_image_url", body.garment_image_url),
  ] as const;
  const photos = async () => {
    const [person, garment] = await Promise.all([
      download(deps, "human_image_url", uploads[0]),
      download(deps, "garment_image_url", uploads[1]),
    ]);
    return { person, garment };
  };
  const fingerprint = fingerprintOf("json", [uploads[0].url, uploads[1].url, occasion]);
  return { start: { occasion, consentVersion: CONSENT_VERSION, fingerprint, photos }, uploads: [...uploads] };
}
