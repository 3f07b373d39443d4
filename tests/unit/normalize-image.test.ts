import { deflateSync } from "node:zlib";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { MAX_LONG_SIDE_PX, normalizeUpload, sniffImageType } from "@/lib/images/normalize-image";

function solid(width: number, height: number) {
  return sharp({ create: { width, height, channels: 3, background: { r: 180, g: 90, b: 60 } } });
}

/** Random pixels, so a truncated file loses real image data rather than a trailing marker. */
function noise(width: number, height: number) {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A ~100-byte PNG whose header claims 30000×30000 pixels: a decompression bomb's shape. */
function pngBomb(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(30_000, 0);
  ihdr.writeUInt32BE(30_000, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (greyscale) is already zero
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", deflateSync(Buffer.alloc(30_001))),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

async function expectAppError(promise: Promise<unknown>, code: string, status: number) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  expect((error as AppError).status).toBe(status);
  return error as AppError;
}

describe("sniffImageType", () => {
  it("recognises the three accepted types by their magic bytes", async () => {
    expect(sniffImageType(await solid(10, 10).jpeg().toBuffer())).toBe("jpeg");
    expect(sniffImageType(await solid(10, 10).png().toBuffer())).toBe("png");
    expect(sniffImageType(await solid(10, 10).webp().toBuffer())).toBe("webp");
    expect(sniffImageType(Buffer.from("RIFF\0\0\0\0WAVEfmt "))).toBeNull();
    expect(sniffImageType(Buffer.alloc(0))).toBeNull();
  });
});

describe("normalizeUpload", () => {
  it("accepts a JPEG and returns a metadata-free JPEG of the same size", async () => {
    const out = await normalizeUpload(await solid(640, 480).jpeg().toBuffer(), "human_image");
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 640, 480]);
  });

  it("accepts PNG (flattening transparency onto white) and WebP", async () => {
    const transparent = await sharp({
      create: { width: 400, height: 400, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const fromPng = await normalizeUpload(transparent, "garment_image");
    expect((await sharp(fromPng).metadata()).format).toBe("jpeg");
    const { dominant } = await sharp(fromPng).stats();
    expect(dominant.r).toBeGreaterThan(240);

    const fromWebp = await normalizeUpload(await solid(500, 350).webp().toBuffer(), "garment_image");
    const meta = await sharp(fromWebp).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 500, 350]);
  });

  it.each([
    ["an SVG named photo.png", '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="900"/>'],
    ["an HTML page", "<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"],
    ["plain text", "just some text, not an image at all"],
  ])("refuses %s with unsupported_image_type (415)", async (_name, text) => {
    const error = await expectAppError(
      normalizeUpload(Buffer.from(text), "human_image"),
      "unsupported_image_type",
      415,
    );
    expect(error.message).toBe("Your photo must be a JPEG, PNG or WebP image.");
  });

  it("names an iPhone's HEIC photo in its 415, and says what to do instead", async () => {
    const heic = Buffer.concat([
      Buffer.from("\0\0\0\x18ftypheic\0\0\0\0mif1heic", "latin1"),
      Buffer.alloc(4096),
    ]);
    const error = await expectAppError(normalizeUpload(heic, "human_image"), "unsupported_image_type", 415);
    expect(error.message).toMatch(/^Your photo is a HEIC photo \(the format iPhones save in\)/);
    expect(error.message).toContain("Most Compatible");
  });

  it("names the garment photo in its messages", async () => {
    const error = await expectAppError(
      normalizeUpload(Buffer.from("GIF89a"), "garment_image"),
      "unsupported_image_type",
      415,
    );
    expect(error.message).toBe("The garment photo must be a JPEG, PNG or WebP image.");
  });

  it("refuses a 30000×30000 PNG bomb from its header, quickly", async () => {
    const bomb = pngBomb();
    expect(bomb.length).toBeLessThan(1000);
    const started = performance.now();
    const error = await expectAppError(normalizeUpload(bomb, "garment_image"), "image_too_large", 422);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error.message).toMatch(/^The garment photo has too many pixels/);
  });

  it("accepts a 12 MP phone-sized photo and caps its long side", async () => {
    const out = await normalizeUpload(await solid(4032, 3024).jpeg().toBuffer(), "human_image");
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([MAX_LONG_SIDE_PX, 1536]);
  });

  it("refuses a truncated JPEG and a truncated PNG with image_undecodable", async () => {
    const jpeg = await noise(800, 600).jpeg().toBuffer();
    await expectAppError(
      normalizeUpload(jpeg.subarray(0, jpeg.length / 2), "human_image"),
      "image_undecodable",
      422,
    );
    const png = await noise(800, 600).png().toBuffer();
    await expectAppError(
      normalizeUpload(png.subarray(0, png.length / 2), "garment_image"),
      "image_undecodable",
      422,
    );
  });

  it("refuses bytes with a JPEG signature and garbage after it", async () => {
    const garbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from("not really a jpeg")]);
    const error = await expectAppError(normalizeUpload(garbage, "human_image"), "image_undecodable", 422);
    expect(error.message).toMatch(/^Your photo could not be read/);
  });

  it("refuses an image under 300 px on a side with image_too_small", async () => {
    const error = await expectAppError(
      normalizeUpload(await solid(1200, 299).png().toBuffer(), "human_image"),
      "image_too_small",
      422,
    );
    expect(error.message).toMatch(/^Your photo is too small/);
  });

  it("judges the size after EXIF orientation", async () => {
    // Stored 400×250 but rotated a quarter turn: still 250 px on one side either way.
    const rotated = await solid(400, 250).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    await expectAppError(normalizeUpload(rotated, "human_image"), "image_too_small", 422);
  });

  it("applies EXIF orientation", async () => {
    const input = await solid(400, 600).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(input).metadata()).orientation).toBe(6);
    const meta = await sharp(await normalizeUpload(input, "human_image")).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([600, 400, undefined]);
  });

  it("strips GPS EXIF", async () => {
    const input = await solid(500, 500)
      .jpeg()
      .withExif({
        IFD0: { Make: "PhoneCo" },
        IFD3: {
          GPSLatitudeRef: "N",
          GPSLatitude: "51/1 30/1 0/1",
          GPSLongitudeRef: "W",
          GPSLongitude: "0/1 7/1 0/1",
        },
      })
      .toBuffer();
    const inputExif = (await sharp(input).metadata()).exif;
    // 0x8825 (little-endian) is the GPS IFD pointer tag: the location really is in the input.
    expect(inputExif?.includes(Buffer.from([0x25, 0x88]))).toBe(true);
    const out = await normalizeUpload(input, "human_image");
    expect((await sharp(out).metadata()).exif).toBeUndefined();
  });
});
