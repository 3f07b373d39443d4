import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { withConsent } from "@/tests/support/consent";
import { BENCH_TMP } from "./paths";

/**
 * Photos like a phone's: JPEG at quality 90 with sensor-like noise, so they weigh what real ones do
 * (12 MP ≈ 4 MB, 1.5 MP ≈ 0.5 MB) and decoding costs what it really costs. The person photo is stored
 * landscape with EXIF orientation 6, as phones store portraits, so the app has to rotate it.
 * Made once and kept in .tmp/bench/photos.
 */
export interface PhotoPair {
  label: string;
  megapixels: number;
  person: Buffer;
  garment: Buffer;
}

function personScene(w: number, h: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#7fa6c9"/><stop offset="1" stop-color="#c9a67f"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>
    <ellipse cx="${w * 0.25}" cy="${h / 2}" rx="${w * 0.12}" ry="${h * 0.14}" fill="#e8b894"/>
    <rect x="${w * 0.4}" y="${h * 0.25}" width="${w * 0.6}" height="${h * 0.5}" rx="60" fill="#3d3d52"/>
  </svg>`;
}

function garmentScene(w: number, h: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
    <rect width="100%" height="100%" fill="#f4f4f2"/>
    <path d="M${w * 0.3} ${h * 0.15} L${w * 0.7} ${h * 0.15} L${w * 0.92} ${h * 0.35} L${w * 0.78} ${h * 0.45}
      L${w * 0.72} ${h * 0.4} L${w * 0.72} ${h * 0.9} L${w * 0.28} ${h * 0.9} L${w * 0.28} ${h * 0.4}
      L${w * 0.22} ${h * 0.45} L${w * 0.08} ${h * 0.35} Z" fill="#c0392b"/>
  </svg>`;
}

async function render(scene: string, w: number, h: number, orientation: number): Promise<Buffer> {
  const noise = await sharp({
    create: {
      width: w,
      height: h,
      channels: 3,
      background: { r: 128, g: 128, b: 128 },
      noise: { type: "gaussian", mean: 128, sigma: 20 },
    },
  })
    .png({ compressionLevel: 0 })
    .toBuffer();
  return sharp(Buffer.from(scene))
    .composite([{ input: noise, blend: "overlay" }])
    .jpeg({ quality: 90 })
    .withMetadata({ orientation })
    .toBuffer();
}

async function cached(name: string, make: () => Promise<Buffer>): Promise<Buffer> {
  const dir = path.join(BENCH_TMP, "photos");
  const file = path.join(dir, name);
  if (existsSync(file)) return readFileSync(file);
  const bytes = await make();
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, bytes);
  return bytes;
}

/** A person photo and a garment photo of `width`×`height` pixels (landscape, 4:3 or 3:2). */
export async function photoPair(label: string, width: number, height: number): Promise<PhotoPair> {
  const [person, garment] = await Promise.all([
    cached(`person-${width}x${height}.jpg`, () => render(personScene(width, height), width, height, 6)),
    cached(`garment-${width}x${height}.jpg`, () => render(garmentScene(width, height), width, height, 1)),
  ]);
  return { label, megapixels: (width * height) / 1e6, person, garment };
}

/** The multipart body of a start request, as the browser sends it, with its content type. */
export async function startBody(
  pair: Pick<PhotoPair, "person" | "garment">,
  occasion = "Summer wedding guest",
): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  form.append("human_image", new Blob([new Uint8Array(pair.person)], { type: "image/jpeg" }), "me.jpg");
  form.append("garment_image", new Blob([new Uint8Array(pair.garment)], { type: "image/jpeg" }), "shirt.jpg");
  form.append("occasion", occasion);
  withConsent(form);
  const request = new Request("http://bench.invalid/", { method: "POST", body: form });
  return {
    body: Buffer.from(await request.arrayBuffer()),
    contentType: request.headers.get("content-type") ?? "",
  };
}
