import sharp from "sharp";
import { withConsent } from "@/tests/support/consent";

/** A portrait-like test photo: a backdrop, a body and a lighter head, so image steps have something to use. */
export async function personPhoto(width = 900, height = 1200): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="#7fa6c9"/>
    <ellipse cx="${width / 2}" cy="${height * 0.25}" rx="${width * 0.14}" ry="${height * 0.12}" fill="#e8b894"/>
    <rect x="${width * 0.25}" y="${height * 0.4}" width="${width * 0.5}" height="${height * 0.6}" rx="60" fill="#3d3d52"/>
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
}

/** A garment photo: a shirt shape of one colour on white. */
export async function garmentPhoto(color = "#c0392b", size = 800): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">
    <rect width="100%" height="100%" fill="#ffffff"/>
    <path d="M${size * 0.3} ${size * 0.15} L${size * 0.7} ${size * 0.15} L${size * 0.92} ${size * 0.35} L${size * 0.78} ${size * 0.45}
      L${size * 0.72} ${size * 0.4} L${size * 0.72} ${size * 0.9} L${size * 0.28} ${size * 0.9} L${size * 0.28} ${size * 0.4}
      L${size * 0.22} ${size * 0.45} L${size * 0.08} ${size * 0.35} Z" fill="${color}"/>
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Builds the start form the browser sends, with the person's consent unless `consent: false`. */
export function startForm(parts: {
  person?: Buffer | null;
  garment?: Buffer | null;
  occasion?: string | null;
  consent?: boolean;
}): FormData {
  const form = new FormData();
  if (parts.person) form.append("human_image", new Blob([new Uint8Array(parts.person)]), "me.jpg");
  if (parts.garment) form.append("garment_image", new Blob([new Uint8Array(parts.garment)]), "shirt.png");
  if (parts.occasion != null) form.append("occasion", parts.occasion);
  return parts.consent === false ? form : withConsent(form);
}
