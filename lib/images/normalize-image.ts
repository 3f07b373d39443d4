import sharp from "sharp";
import { AppError } from "@/lib/errors";
import { HEIC_ADVICE, MIN_SIDE_PX, sniffImageKind } from "@/lib/start-rules";

/** Largest decoded size we accept: a 12 MP phone photo passes, a decompression bomb does not. */
export const MAX_INPUT_PIXELS = 40_000_000;
/** Long side of the stored JPEG: enough for every provider, small enough to copy around. */
export const MAX_LONG_SIDE_PX = 2048;
export const JPEG_QUALITY = 88;

export type UploadField = "human_image" | "garment_image";
export type SniffedImageType = "jpeg" | "png" | "webp";

/** The image type the bytes really are (lib/start-rules.ts), of the ones sharp may decode here. */
export function sniffImageType(bytes: Uint8Array): SniffedImageType | null {
  const kind = sniffImageKind(bytes);
  return kind === "heic" ? null : kind;
}

/**
 * Why an image cannot be kept, whoever sent it (a person's upload or a vendor's output). "heic" is
 * "unsupported" with a name: an iPhone photo that got past the page is told what to do.
 */
export type ImageProblem = "unsupported" | "heic" | "too_many_pixels" | "too_small" | "undecodable";

export class ImageRejectedError extends Error {
  constructor(
    readonly problem: ImageProblem,
    options: { cause?: unknown } = {},
  ) {
    super(`image rejected: ${problem}`, options);
    this.name = "ImageRejectedError";
  }
}

/** sharp refuses over-limit inputs from the header alone, with this message. */
function isPixelLimitError(error: unknown): boolean {
  return error instanceof Error && /pixel limit/i.test(error.message);
}

function decodeFailure(error: unknown): ImageRejectedError {
  return new ImageRejectedError(isPixelLimitError(error) ? "too_many_pixels" : "undecodable", {
    cause: error,
  });
}

function openImage(bytes: Buffer) {
  // failOn "error" refuses truncated and corrupt data but tolerates the harmless warnings many phone JPEGs carry.
  return sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: "error" });
}

/**
 * Decodes an image and re-encodes it as a clean JPEG: EXIF orientation applied, long side at most
 * MAX_LONG_SIDE_PX, transparency flattened onto white, and no metadata (GPS and camera data are dropped).
 * Every image we keep goes through here, uploads and vendor outputs alike. Throws ImageRejectedError.
 */
export async function normalizeImage(bytes: Buffer): Promise<Buffer> {
  if (sniffImageKind(bytes) === "heic") throw new ImageRejectedError("heic");
  if (sniffImageType(bytes) === null) throw new ImageRejectedError("unsupported");

  let oriented: { width: number; height: number };
  try {
    const metadata = await openImage(bytes).metadata();
    // Checked here too, so the limit holds even for a format whose loader skips sharp's own check.
    if (metadata.width * metadata.height > MAX_INPUT_PIXELS) throw new ImageRejectedError("too_many_pixels");
    oriented = metadata.autoOrient;
  } catch (error) {
    throw error instanceof ImageRejectedError ? error : decodeFailure(error);
  }

  if (Math.min(oriented.width, oriented.height) < MIN_SIDE_PX) throw new ImageRejectedError("too_small");

  try {
    return await openImage(bytes)
      .rotate()
      .resize({
        width: MAX_LONG_SIDE_PX,
        height: MAX_LONG_SIDE_PX,
        fit: "inside",
        withoutEnlargement: true,
      })
      // JPEG has no alpha: a transparent product shot would otherwise turn black.
      .flatten({ background: "#ffffff" })
      .jpeg({ quality: JPEG_QUALITY })
      .toBuffer();
  } catch (error) {
    // Truncated pixel data only shows up while decoding, after the header looked fine.
    throw decodeFailure(error);
  }
}

function subjectOf(field: UploadField): string {
  return field === "human_image" ? "Your photo" : "The garment photo";
}

/** The sentence a person reads about their own upload. */
function uploadError(field: UploadField, rejection: ImageRejectedError): AppError {
  const subject = subjectOf(field);
  const cause = rejection.cause;
  switch (rejection.problem) {
    case "unsupported":
      return new AppError("unsupported_image_type", `${subject} must be a JPEG, PNG or WebP image.`, {
        cause,
      });
    case "heic":
      return new AppError(
        "unsupported_image_type",
        `${subject} is a HEIC photo (the format iPhones save in), which we can’t read. ${HEIC_ADVICE}`,
        { cause },
      );
    case "too_many_pixels":
      return new AppError(
        "image_too_large",
        `${subject} has too many pixels (more than ${MAX_INPUT_PIXELS / 1_000_000} megapixels). Please use a smaller image.`,
        { cause },
      );
    case "too_small":
      return new AppError(
        "image_too_small",
        `${subject} is too small: it must be at least ${MIN_SIDE_PX} pixels on each side.`,
        { cause },
      );
    case "undecodable":
      return new AppError(
        "image_undecodable",
        `${subject} could not be read. It may be damaged or incomplete; please try another file.`,
        { cause },
      );
  }
}

/** Validates an uploaded photo and returns it normalised (see normalizeImage); AppErrors name the field. */
export async function normalizeUpload(bytes: Buffer, field: UploadField): Promise<Buffer> {
  try {
    return await normalizeImage(bytes);
  } catch (error) {
    throw error instanceof ImageRejectedError ? uploadError(field, error) : error;
  }
}
