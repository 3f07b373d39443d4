/**
 * The rules a start request's photos and occasion follow, written once for the browser (which says so
 * before uploading) and the server (which enforces them). Client-safe: it imports nothing.
 */

/** The largest photo the server accepts, in a form or as a direct upload. */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
/** Smallest side (after EXIF orientation) that still gives the providers a usable picture. */
export const MIN_SIDE_PX = 300;
export const MAX_OCCASION_CHARS = 200;
/** The image types a photo may be, by what its bytes are. */
export const ALLOWED_UPLOAD_TYPES = ["image/jpeg", "image/png", "image/webp"];

/** What the bytes are; "heic" only so the browser can say why it refuses an iPhone photo. */
export type ImageKind = "jpeg" | "png" | "webp" | "heic";

function startsWith(bytes: Uint8Array, signature: number[], offset = 0): boolean {
  return bytes.length >= offset + signature.length && signature.every((b, i) => bytes[offset + i] === b);
}

/** The image type the bytes really are, from their magic numbers (16 bytes suffice); names and declared types can lie. */
export function sniffImageKind(bytes: Uint8Array): ImageKind | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpeg";
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  // RIFF <4-byte size> WEBP
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) {
    return "webp";
  }
  // ISO-BMFF "ftyp" box with a HEIF brand: what iPhones save by default.
  const brand = String.fromCharCode(...bytes.slice(8, 12));
  if (startsWith(bytes, [0x66, 0x74, 0x79, 0x70], 4) && /^(heic|heix|hevc|mif1|msf1)$/.test(brand)) {
    return "heic";
  }
  return null;
}
