import { Readable } from "node:stream";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import busboy from "busboy";
import { AppError } from "@/lib/errors";

/** The validated fields of a start request, images still as uploaded. */
export interface StartForm {
  person: Buffer;
  garment: Buffer;
  occasion: string;
}

export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
export const MAX_OCCASION_CHARS = 200;
/** Two full-size images plus the form's own bytes: anything declared larger is refused unread. */
const MAX_BODY_BYTES = 2 * MAX_IMAGE_BYTES + 256 * 1024;
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

/** Trimmed, NFC-normalised, 1–200 characters, no control characters. */
export function parseOccasion(raw: string | undefined): string {
  const occasion = raw?.normalize("NFC").trim() ?? "";
  if (!occasion) throw new AppError("missing_occasion", "Please describe the occasion.");
  if ([...occasion].length > MAX_OCCASION_CHARS) {
    throw new AppError("invalid_occasion", `The occasion must be at most ${MAX_OCCASION_CHARS} characters.`);
  }
  if (/\p{Cc}/u.test(occasion)) {
    throw new AppError("invalid_occasion", "The occasion contains characters that cannot be used.");
  }
  return occasion;
}

/**
 * Streams a multipart start request, refusing an oversized file as soon as it crosses the limit
 * rather than after buffering it whole.
 */
export async function readStartForm(request: Request): Promise<StartForm> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!contentType.toLowerCase().startsWith("multipart/form-data") || !request.body) {
    throw new AppError(
      "unsupported_media_type",
      "Send the photos and the occasion as a multipart/form-data form.",
    );
  }
  const declaredLength = Number(request.headers.get("content-length") ?? 0);
  if (declaredLength > MAX_BODY_BYTES) {
    throw new AppError("request_too_large", "The upload is too large: each photo may be at most 10 MB.");
  }

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
    const source = Readable.fromWeb(request.body as unknown as NodeWebReadableStream);
    const fail = (error: AppError) => {
      source.unpipe(parser);
      // Discard (never buffer) the rest of a body of sane size, so the client reads our answer
      // instead of a reset connection; past that, cut the connection.
      let discarded = 0;
      source.on("data", (chunk: Buffer) => {
        discarded += chunk.length;
        if (discarded > MAX_BODY_BYTES) source.destroy();
      });
      source.resume();
      reject(error);
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
    parser.on("close", () => resolve());
    source.on("error", (error) =>
      fail(new AppError("invalid_request", "The upload was interrupted.", { cause: error })),
    );
    source.pipe(parser);
  });

  if (!files.human_image?.length)
    throw new AppError("missing_human_image", "Please add a photo of yourself.");
  if (!files.garment_image?.length)
    throw new AppError("missing_garment_image", "Please add a photo of the garment.");
  if (occasionTruncated) {
    throw new AppError("invalid_occasion", `The occasion must be at most ${MAX_OCCASION_CHARS} characters.`);
  }
  return { person: files.human_image, garment: files.garment_image, occasion: parseOccasion(texts.occasion) };
}
