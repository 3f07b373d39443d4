import { Readable } from "node:stream";
import busboy from "busboy";
import { CONSENT_REQUIRED_MESSAGE, CONSENT_VERSION, isConsent } from "@/lib/consent";
import { AppError } from "@/lib/errors";
import { guardedBody, refusalOf } from "@/lib/intake/guarded-body";
import { parseOccasion } from "@/lib/intake/occasion";
import { fingerprintOf, type StartRequest } from "@/lib/jobs/start-request";
import { MAX_IMAGE_BYTES, MAX_OCCASION_CHARS } from "@/lib/start-rules";

/** Two full-size images plus the form's own bytes: the whole body's cap, counted while streaming. */
export const MAX_BODY_BYTES = 2 * MAX_IMAGE_BYTES + 256 * 1024;
const TOO_LARGE = "The upload is too large: each photo may be at most 10 MB.";
const FILE_FIELDS = { human_image: "Your photo", garment_image: "The garment photo" } as const;
type FileField = keyof typeof FILE_FIELDS;

function isFileField(name: string): name is FileField {
  return name in FILE_FIELDS;
}

function tooLarge(field: FileField): AppError {
  return new AppError(
    "file_too_large",
    `${FILE_FIELDS[field]} is larger than 10 MB. Please choose a smaller image.`,
  );
}

/**
 * Streams a multipart start request within the body limits (guardedBody: a total cap counted while
 * streaming, an idle and a total deadline), refusing an oversized file as soon as it crosses its
 * limit rather than after buffering it whole. Any refusal while the body is unread closes the
 * connection. The photos are returned as sent: nothing is decoded here.
 */
export async function readStartForm(
  request: Request,
  deadlines: { idleMs: number; totalMs: number },
): Promise<StartRequest> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!contentType.toLowerCase().startsWith("multipart/form-data") || !request.body) {
    throw new AppError(
      "unsupported_media_type",
      "Send the photos and the occasion as a multipart/form-data form.",
    );
  }
  const body = guardedBody(request, { maxBytes: MAX_BODY_BYTES, ...deadlines, tooLargeMessage: TOO_LARGE });
  const files: Partial<Record<FileField, Buffer>> = {};
  const texts: Record<string, string> = {};
  let occasionTruncated = false;

  await new Promise<void>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { "content-type": contentType },
        limits: { fileSize: MAX_IMAGE_BYTES, files: 4, fields: 8, parts: 12, fieldSize: 8 * 1024 },
      });
    } catch (error) {
      reject(new AppError("invalid_request", "The form could not be read.", { cause: error }));
      return;
    }
    const source = Readable.from(body, { objectMode: false });
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      // Stop reading where we are; the answer closes the connection (refusalOf).
      source.unpipe(parser);
      source.pause();
      parser.on("error", () => {});
      reject(refusalOf(error));
    };

    parser.on("file", (name, stream) => {
      if (!isFileField(name) || files[name]) {
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("limit", () => fail(tooLarge(name)));
      stream.on("end", () => {
        if (!stream.truncated) files[name] = Buffer.concat(chunks);
      });
    });
    parser.on("field", (name, value, info) => {
      texts[name] ??= value;
      if (name === "occasion" && info.valueTruncated) occasionTruncated = true;
    });
    parser.on("error", (error) =>
      fail(new AppError("invalid_request", "The form could not be read.", { cause: error })),
    );
    parser.on("close", () => {
      if (!failed) resolve();
    });
    source.on("error", fail);
    source.pipe(parser);
  });

  const person = files.human_image;
  const garment = files.garment_image;
  if (!person?.length) throw new AppError("missing_human_image", "Please add a photo of yourself.");
  if (!garment?.length) throw new AppError("missing_garment_image", "Please add a photo of the garment.");
  if (occasionTruncated) {
    throw new AppError("invalid_occasion", `The occasion must be at most ${MAX_OCCASION_CHARS} characters.`);
  }
  const occasion = parseOccasion(texts.occasion);
  // Checked before anything is stored: a start without consent leaves no trace.
  if (!isConsent(texts.consent)) throw new AppError("consent_required", CONSENT_REQUIRED_MESSAGE);
  return {
    occasion,
    consentVersion: CONSENT_VERSION,
    fingerprint: fingerprintOf("multipart", [person, garment, occasion]),
    photos: async () => ({ person, garment }),
  };
}
