import sharp from "sharp";

/** Replicate takes data URLs for small files only; larger inputs must be URLs it can fetch. */
export const DATA_URL_MAX_BYTES = 256 * 1024;
const MIN_SIDE_PX = 256;
const MAX_TRIES = 6;

/**
 * A `data:image/jpeg;base64,…` URL of the image, downscaled until the JPEG fits in `maxBytes`.
 * Only used when our storage is not public (local mode), so a smaller result beats no result.
 */
export async function jpegDataUrl(bytes: Buffer, maxBytes = DATA_URL_MAX_BYTES): Promise<string> {
  const jpeg = bytes.length <= maxBytes ? bytes : await shrinkJpeg(bytes, maxBytes);
  return `data:image/jpeg;base64,${jpeg.toString("base64")}`;
}

async function shrinkJpeg(bytes: Buffer, maxBytes: number): Promise<Buffer> {
  const { width = 1024, height = 1024 } = await sharp(bytes).metadata();
  // JPEG size grows roughly with the pixel count, so scale each side by the square root of the ratio.
  let scale = Math.sqrt(maxBytes / bytes.length);
  let smallest = bytes;
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const longSide = Math.max(MIN_SIDE_PX, Math.floor(Math.max(width, height) * scale));
    smallest = await sharp(bytes)
      .resize({ width: longSide, height: longSide, fit: "inside", withoutEnlargement: true })
      .jpeg({ quality: tries < 2 ? 85 : 70, mozjpeg: true })
      .toBuffer();
    if (smallest.length <= maxBytes) return smallest;
    scale *= Math.sqrt(maxBytes / smallest.length) * 0.9;
  }
  throw new Error(`image still ${smallest.length} bytes after downscaling (limit ${maxBytes})`);
}
