import sharp from "sharp";
import { measureGarmentColors, type Rgb, rgbDistance } from "./colors";

/** Every studio image is 3:4 at this size, so the style, try-on and face steps line up pixel for pixel. */
export const STUDIO_WIDTH = 768;
export const STUDIO_HEIGHT = 1024;

/** Where the garment goes: the torso, as fractions of the frame. */
export const TORSO_BOX = { left: 0.2, top: 0.36, width: 0.6, height: 0.5 };
/** Where the face is assumed to be: an upper-centre ellipse, as fractions of the frame. */
export const FACE_ELLIPSE = { cx: 0.5, cy: 0.2, rx: 0.17, ry: 0.15 };

const JPEG_QUALITY = 88;

/**
 * The person's photo cropped to the studio frame. North gravity keeps the head when a tall photo is trimmed;
 * the style and face steps both use it, so the face lands in the same place. PNG, so the only lossy encode
 * is each step's final JPEG.
 */
export function studioFrame(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes)
    .rotate()
    .resize(STUDIO_WIDTH, STUDIO_HEIGHT, { fit: "cover", position: "north" })
    .removeAlpha()
    .png({ compressionLevel: 1 })
    .toBuffer();
}

function svg(body: string, width = STUDIO_WIDTH, height = STUDIO_HEIGHT): Buffer {
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${body}</svg>`,
  );
}

/** Darkened corners, as if lit by one soft studio light. */
const VIGNETTE = svg(
  `<defs><radialGradient id="v" cx="50%" cy="42%" r="75%">` +
    `<stop offset="55%" stop-color="#000" stop-opacity="0"/>` +
    `<stop offset="100%" stop-color="#000" stop-opacity="0.55"/></radialGradient></defs>` +
    `<rect width="100%" height="100%" fill="url(#v)"/>`,
);

/** The style step: the person's photo graded toward the garment's colour, with a studio vignette. */
export async function styleLook(person: Buffer, garment: Buffer): Promise<Buffer> {
  const { dominant } = await measureGarmentColors(garment);
  const frame = await studioFrame(person);
  return sharp(frame)
    .modulate({ saturation: 1.1, brightness: 1.03 })
    .composite([
      { input: colorWash(dominant), blend: "soft-light" },
      { input: VIGNETTE, blend: "over" },
    ])
    .jpeg({ quality: JPEG_QUALITY })
    .toBuffer();
}

function colorWash({ r, g, b }: Rgb): Buffer {
  return svg(`<rect width="100%" height="100%" fill="rgb(${r},${g},${b})" fill-opacity="0.6"/>`);
}

/** A white shape on transparent, blurred so its edge fades out: a feathered alpha mask. */
function featheredMask(shape: string, width: number, height: number, sigma: number): Promise<Buffer> {
  return sharp(svg(shape, width, height))
    .blur(sigma)
    .png()
    .toBuffer();
}

/** The try-on step: the garment, cut from its backdrop, soft-edged and shadowed, laid over the torso. */
export async function tryOnGarment(styled: Buffer, garment: Buffer): Promise<Buffer> {
  const box = pixelBox();
  const raw = { width: box.width, height: box.height, channels: 1 } as const;
  const { backdrop } = await measureGarmentColors(garment);
  const pixels = await sharp(await trimBackdrop(garment))
    .resize(box.width, box.height, { fit: "cover", position: "attention" })
    .removeAlpha()
    .raw()
    .toBuffer();
  const feather = await sharp(
    await featheredMask(roundedRect(box.width, box.height), box.width, box.height, 6),
  )
    .extractChannel("alpha")
    .raw()
    .toBuffer();
  const alpha = garmentAlpha(pixels, feather, backdrop);
  const patch = await sharp(pixels, { raw: { ...raw, channels: 3 } })
    .joinChannel(alpha, { raw })
    .png()
    .toBuffer();
  // "b-w": sharp otherwise writes a one-band raw image back out as three sRGB bands.
  const blurred = await sharp(alpha, { raw }).blur(12).toColourspace("b-w").raw().toBuffer();
  const shadowAlpha = Buffer.from(blurred.map((a) => a * 0.45));
  const shadow = await sharp({ create: { ...raw, channels: 3, background: "#000" } })
    .joinChannel(shadowAlpha, { raw })
    .png()
    .toBuffer();
  return sharp(await studioFrame(styled))
    .composite([
      { input: shadow, left: box.left + 8, top: box.top + 12 },
      { input: patch, left: box.left, top: box.top },
    ])
    .jpeg({ quality: JPEG_QUALITY })
    .toBuffer();
}

/**
 * Opacity of each garment pixel: the feathered outline, times how far the pixel is from the backdrop colour.
 * When keying would leave little (a close-up with no backdrop), the outline alone is used.
 */
function garmentAlpha(rgb: Buffer, feather: Buffer, backdrop: Rgb): Buffer {
  const keyed = Buffer.alloc(feather.length);
  let opaque = 0;
  for (let i = 0; i < feather.length; i++) {
    const px = { r: rgb[i * 3] ?? 0, g: rgb[i * 3 + 1] ?? 0, b: rgb[i * 3 + 2] ?? 0 };
    const key = Math.min(1, Math.max(0, (rgbDistance(px, backdrop) - 25) / 35));
    keyed[i] = Math.round((feather[i] ?? 0) * key);
    if (key > 0.5) opaque++;
  }
  return opaque > feather.length * 0.25 ? keyed : feather;
}

function pixelBox() {
  return {
    left: Math.round(TORSO_BOX.left * STUDIO_WIDTH),
    top: Math.round(TORSO_BOX.top * STUDIO_HEIGHT),
    width: Math.round(TORSO_BOX.width * STUDIO_WIDTH),
    height: Math.round(TORSO_BOX.height * STUDIO_HEIGHT),
  };
}

function roundedRect(width: number, height: number): string {
  const inset = 12;
  return (
    `<rect x="${inset}" y="${inset}" width="${width - 2 * inset}" height="${height - 2 * inset}" ` +
    `rx="${Math.round(width * 0.18)}" fill="#fff"/>`
  );
}

/** Product shots sit on a plain sheet: trim it so the garment fills the patch. */
async function trimBackdrop(garment: Buffer): Promise<Buffer> {
  try {
    return await sharp(garment).rotate().trim({ threshold: 30 }).toBuffer();
  } catch {
    // A uniform image has nothing to trim, and sharp refuses it: use the photo as it is.
    return garment;
  }
}

/** The face step: the face from the person's own photo, feathered, put back over the target at the same place. */
export async function restoreFace(target: Buffer, person: Buffer): Promise<Buffer> {
  const { cx, cy, rx, ry } = FACE_ELLIPSE;
  const ellipse =
    `<ellipse cx="${cx * STUDIO_WIDTH}" cy="${cy * STUDIO_HEIGHT}" rx="${rx * STUDIO_WIDTH}" ` +
    `ry="${ry * STUDIO_HEIGHT}" fill="#fff"/>`;
  const face = await sharp(await studioFrame(person))
    .ensureAlpha()
    .composite([{ input: await featheredMask(ellipse, STUDIO_WIDTH, STUDIO_HEIGHT, 10), blend: "dest-in" }])
    .png()
    .toBuffer();
  return sharp(await studioFrame(target))
    .composite([{ input: face }])
    .jpeg({ quality: JPEG_QUALITY })
    .toBuffer();
}
