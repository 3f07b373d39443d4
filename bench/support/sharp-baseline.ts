/**
 * The start's baseline, run in its own process so its peak memory is its own: sharp alone doing what
 * lib/images/normalize-image.ts does to each photo (header read, then EXIF rotate, resize to fit
 * MAX_LONG_SIDE_PX, flatten, JPEG at JPEG_QUALITY), both photos at once as startJob does.
 * Usage: node --import tsx bench/support/sharp-baseline.ts '{"files":[…],"warmup":2,"iterations":20,"gapMs":250}'
 * Prints one JSON line: { latenciesMs, peakMb, rssMb }.
 */
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { JPEG_QUALITY, MAX_INPUT_PIXELS, MAX_LONG_SIDE_PX } from "@/lib/images/normalize-image";
import { memory } from "./proc";
import { sleep } from "./stats";

interface Args {
  files: string[];
  warmup: number;
  iterations: number;
  gapMs: number;
}

async function normalize(bytes: Buffer): Promise<Buffer> {
  const open = () => sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: "error" });
  await open().metadata();
  return open()
    .rotate()
    .resize({ width: MAX_LONG_SIDE_PX, height: MAX_LONG_SIDE_PX, fit: "inside", withoutEnlargement: true })
    .flatten({ background: "#ffffff" })
    .jpeg({ quality: JPEG_QUALITY })
    .toBuffer();
}

const args = JSON.parse(process.argv[2] ?? "{}") as Args;
const photos = args.files.map((file) => readFileSync(file));
const latenciesMs: number[] = [];
for (let i = 0; i < args.warmup + args.iterations; i++) {
  const started = performance.now();
  await Promise.all(photos.map(normalize));
  if (i >= args.warmup) latenciesMs.push(performance.now() - started);
  await sleep(args.gapMs);
}
const { peakMb, rssMb } = memory(process.pid);
console.log(JSON.stringify({ latenciesMs, peakMb, rssMb }));
