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

/** How many leading bytes sniffImageKind reads: enough for an ISO-BMFF box's brand list. */
export const SNIFF_BYTES = 64;

/** MIME types browsers give a HEIC/HEIF photo (some give none at all, so the bytes are sniffed too). */
export const HEIF_MIME_TYPES = ["image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"];

/** ftyp brands of a HEIF image: HEVC-coded (heic…) or the generic image/sequence brands (mif1, msf1). */
const HEIF_BRANDS = new Set(["heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1"]);
/** AVIF is HEIF too (often major brand mif1), but not what an iPhone takes: not called HEIC. */
const AVIF_BRANDS = new Set(["avif", "avis"]);

/** The major and compatible brands of an ISO-BMFF "ftyp" box at the start, or null when there is none. */
function ftypBrands(bytes: Uint8Array): string[] | null {
  if (!startsWith(bytes, [0x66, 0x74, 0x79, 0x70], 4) || bytes.length < 12) return null;
  const boxSize =
    ((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
  const end = Math.min(bytes.length, boxSize > 16 ? boxSize : 12);
  const brands = [String.fromCharCode(...bytes.slice(8, 12))];
  // Bytes 12–15 are the minor version; the compatible brands follow, four bytes each.
  for (let offset = 16; offset + 4 <= end; offset += 4) {
    brands.push(String.fromCharCode(...bytes.slice(offset, offset + 4)));
  }
  return brands;
}

/**
 * The image type the bytes really are, from their magic numbers (the first SNIFF_BYTES suffice; 16 tell
 * all but an AVIF from a HEIC); names and declared types can lie.
 */
export function sniffImageKind(bytes: Uint8Array): ImageKind | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpeg";
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  // RIFF <4-byte size> WEBP
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) {
    return "webp";
  }
  // ISO-BMFF "ftyp" box with a HEIF brand: what iPhones save by default.
  const brands = ftypBrands(bytes);
  if (brands?.[0] && HEIF_BRANDS.has(brands[0]) && !brands.some((brand) => AVIF_BRANDS.has(brand))) {
    return "heic";
  }
  return null;
}

/** What to do with a HEIC photo instead: said by the page before upload and by the server's 415. */
export const HEIC_ADVICE =
  "Please choose a JPEG, PNG or WebP version: on an iPhone, share it as a JPEG, or set Settings › Camera › Formats to Most Compatible.";

/** A HEIC/HEIF photo, by its bytes or, when they say nothing we know, by the type the browser gave it. */
export function isHeifPhoto(bytes: Uint8Array, mimeType: string): boolean {
  const kind = sniffImageKind(bytes);
  return kind === "heic" || (kind === null && HEIF_MIME_TYPES.includes(mimeType.toLowerCase()));
}
