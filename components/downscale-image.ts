import { HEIC_ADVICE, isHeifPhoto, MIN_SIDE_PX, SNIFF_BYTES, sniffImageKind } from "@/lib/start-rules";

/** Long side of the photo the browser uploads: small enough that two stay far below Vercel's 4.5 MB limit. */
export const MAX_UPLOAD_LONG_SIDE_PX = 1536;
/** Larger than any phone photo; past it decoding could exhaust a phone's memory. */
export const MAX_FILE_BYTES = 40 * 1024 * 1024;
const JPEG_QUALITY = 0.9;

/** A photo the picker refused, with a sentence that says why. */
export class PhotoRejectedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PhotoRejectedError";
  }
}

export interface PreparedPhoto {
  /** The JPEG that is uploaded: EXIF orientation applied, metadata gone. */
  blob: Blob;
  width: number;
  height: number;
  /** The name of the file the person chose. */
  name: string;
}

function toJpeg(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("canvas.toBlob gave no blob"))),
      "image/jpeg",
      JPEG_QUALITY,
    ),
  );
}

/** Why a HEIC/HEIF photo is refused before upload, and what to do instead. */
export function heifRefusal(name: string): string {
  return `“${name}” is a HEIC photo (the format iPhones save in), which we can’t read. ${HEIC_ADVICE}`;
}

/**
 * Checks a chosen file is a usable photo and re-encodes it as a JPEG whose long side is at most
 * MAX_UPLOAD_LONG_SIDE_PX. Throws PhotoRejectedError with a reason a person can act on.
 */
export async function downscaleImage(file: File): Promise<PreparedPhoto> {
  const name = file.name || "This file";
  if (file.size === 0) throw new PhotoRejectedError(`“${name}” is empty. Please choose a photo.`);
  if (file.size > MAX_FILE_BYTES) {
    throw new PhotoRejectedError(`“${name}” is larger than 40 MB. Please choose a smaller photo.`);
  }
  const head = new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer());
  if (isHeifPhoto(head, file.type)) throw new PhotoRejectedError(heifRefusal(name));
  const kind = sniffImageKind(head);
  if (kind === null) {
    throw new PhotoRejectedError(`“${name}” is not an image. Please choose a JPEG, PNG or WebP photo.`);
  }

  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch (error) {
    throw new PhotoRejectedError(
      `“${name}” could not be read. It may be damaged; please try another photo.`,
      {
        cause: error,
      },
    );
  }
  try {
    const { width, height } = bitmap;
    if (Math.min(width, height) < MIN_SIDE_PX) {
      throw new PhotoRejectedError(
        `“${name}” is too small (${width} × ${height} px). Please use a photo at least ${MIN_SIDE_PX} px on each side.`,
      );
    }
    const scale = Math.min(1, MAX_UPLOAD_LONG_SIDE_PX / Math.max(width, height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const context = canvas.getContext("2d");
    if (!context) throw new Error("no 2d canvas context");
    // JPEG has no transparency: a transparent garment cut-out goes on white, not black.
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return { blob: await toJpeg(canvas), width: canvas.width, height: canvas.height, name };
  } finally {
    bitmap.close();
  }
}
