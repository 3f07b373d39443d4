import sharp from "sharp";

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

/** A colour with a name a person would use, and the neutrals that pair well with it. */
export interface NamedColor {
  name: string;
  rgb: Rgb;
  pairsWith: [string, string, string];
}

const PALETTE: NamedColor[] = [
  { name: "black", rgb: { r: 20, g: 20, b: 20 }, pairsWith: ["white", "camel", "silver"] },
  { name: "white", rgb: { r: 245, g: 245, b: 242 }, pairsWith: ["navy", "tan", "black"] },
  { name: "grey", rgb: { r: 128, g: 128, b: 128 }, pairsWith: ["burgundy", "white", "black"] },
  { name: "charcoal", rgb: { r: 60, g: 62, b: 66 }, pairsWith: ["light blue", "white", "cognac"] },
  { name: "navy", rgb: { r: 25, g: 35, b: 80 }, pairsWith: ["white", "tan", "grey"] },
  { name: "blue", rgb: { r: 40, g: 90, b: 200 }, pairsWith: ["white", "beige", "grey"] },
  { name: "light blue", rgb: { r: 150, g: 190, b: 230 }, pairsWith: ["navy", "white", "tan"] },
  { name: "teal", rgb: { r: 0, g: 128, b: 128 }, pairsWith: ["cream", "camel", "charcoal"] },
  { name: "green", rgb: { r: 40, g: 140, b: 60 }, pairsWith: ["cream", "brown", "navy"] },
  { name: "olive", rgb: { r: 110, g: 110, b: 50 }, pairsWith: ["cream", "brown", "white"] },
  { name: "yellow", rgb: { r: 240, g: 210, b: 50 }, pairsWith: ["navy", "white", "grey"] },
  { name: "mustard", rgb: { r: 200, g: 160, b: 40 }, pairsWith: ["navy", "brown", "cream"] },
  { name: "orange", rgb: { r: 235, g: 120, b: 30 }, pairsWith: ["navy", "white", "denim blue"] },
  { name: "red", rgb: { r: 200, g: 30, b: 40 }, pairsWith: ["navy", "charcoal", "cream"] },
  { name: "burgundy", rgb: { r: 110, g: 20, b: 40 }, pairsWith: ["grey", "cream", "navy"] },
  { name: "pink", rgb: { r: 240, g: 160, b: 190 }, pairsWith: ["grey", "white", "navy"] },
  { name: "purple", rgb: { r: 110, g: 50, b: 150 }, pairsWith: ["grey", "silver", "black"] },
  { name: "brown", rgb: { r: 110, g: 70, b: 40 }, pairsWith: ["cream", "olive", "denim blue"] },
  { name: "beige", rgb: { r: 215, g: 195, b: 160 }, pairsWith: ["white", "navy", "brown"] },
];

/** Plain Euclidean RGB distance, 0–441. */
export function rgbDistance(a: Rgb, b: Rgb): number {
  return Math.hypot(a.r - b.r, a.g - b.g, a.b - b.b);
}

/** The palette entry closest to `rgb`, by the "redmean" distance (cheap, closer to perception than plain RGB). */
export function nearestNamedColor(rgb: Rgb): NamedColor {
  let best = PALETTE[0] as NamedColor;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of PALETTE) {
    const d = colorDistance(rgb, candidate.rgb);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function colorDistance(a: Rgb, b: Rgb): number {
  const rMean = (a.r + b.r) / 2;
  const dr = a.r - b.r;
  const dg = a.g - b.g;
  const db = a.b - b.b;
  return (2 + rMean / 256) * dr * dr + 4 * dg * dg + (2 + (255 - rMean) / 256) * db * db;
}

const SAMPLE = 48;
const LEVELS = 6;
/** Pixels closer than this (redmean distance) to the backdrop count as backdrop, not garment. */
const BACKDROP_DISTANCE = 3 * 40 * 40;

export interface GarmentColors {
  /** The garment's own colour. */
  dominant: Rgb;
  /** The mean colour around the photo's edges: the sheet or wall the garment was shot on. */
  backdrop: Rgb;
}

/**
 * Measures the garment photo: the dominant colour is the largest bin of a quantised histogram of the centre,
 * ignoring pixels that look like the backdrop, so a red shirt on a white sheet reads as red.
 */
export async function measureGarmentColors(bytes: Buffer): Promise<GarmentColors> {
  const { data } = await sharp(bytes)
    .resize(SAMPLE, SAMPLE, { fit: "fill" })
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number): Rgb => {
    const i = (y * SAMPLE + x) * 3;
    return { r: data[i] ?? 0, g: data[i + 1] ?? 0, b: data[i + 2] ?? 0 };
  };

  const edge: Rgb[] = [];
  for (let k = 0; k < SAMPLE; k++) edge.push(at(k, 0), at(k, SAMPLE - 1), at(0, k), at(SAMPLE - 1, k));
  const backdrop = mean(edge);

  const bins = new Map<number, Rgb[]>();
  const margin = Math.floor(SAMPLE / 6);
  for (let y = margin; y < SAMPLE - margin; y++) {
    for (let x = margin; x < SAMPLE - margin; x++) {
      const px = at(x, y);
      if (colorDistance(px, backdrop) < BACKDROP_DISTANCE) continue;
      const bin = [px.r, px.g, px.b].reduce((acc, v) => acc * LEVELS + Math.floor((v * LEVELS) / 256), 0);
      const members = bins.get(bin) ?? [];
      members.push(px);
      bins.set(bin, members);
    }
  }
  const largest = [...bins.values()].sort((a, b) => b.length - a.length)[0];
  // A garment the colour of its backdrop (or a uniform photo): the backdrop is the garment colour.
  return { dominant: largest ? mean(largest) : backdrop, backdrop };
}

function mean(pixels: Rgb[]): Rgb {
  const sum = pixels.reduce((acc, p) => ({ r: acc.r + p.r, g: acc.g + p.g, b: acc.b + p.b }), {
    r: 0,
    g: 0,
    b: 0,
  });
  const n = Math.max(1, pixels.length);
  return { r: Math.round(sum.r / n), g: Math.round(sum.g / n), b: Math.round(sum.b / n) };
}
