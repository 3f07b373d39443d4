import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { createLocalBlobStore } from "@/lib/blobs/local";
import { MAX_LONG_SIDE_PX } from "@/lib/images/normalize-image";
import { type FetchOutput, OutputFetchError, type OutputFetchFailure } from "@/lib/outputs/fetch-output";
import { saveOutputImage } from "@/lib/outputs/save-output-image";
import { ProviderError } from "@/lib/providers/types";
import { tempDir } from "@/tests/support/app-server";
import { listFiles } from "@/tests/support/hostile";
import { GPS_MARKERS, hasGpsIfd, jpegWithGps, pngBomb } from "@/tests/support/hostile-payloads";

const SOURCES = { deliveryHosts: ["replicate.delivery"], apiOrigin: "http://127.0.0.1:1" };
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function setup(answer: Buffer | OutputFetchFailure) {
  const dir = tempDir("save-output");
  const fetched: string[] = [];
  const fetchOutput: FetchOutput = async (url) => {
    fetched.push(url);
    if (Buffer.isBuffer(answer)) return answer;
    throw new OutputFetchError(answer, `scripted ${answer}`);
  };
  const save = (output: Parameters<typeof saveOutputImage>[1], sources: typeof SOURCES | null = SOURCES) =>
    saveOutputImage(createLocalBlobStore({ dir }), output, {
      sources: sources ?? undefined,
      keyStem: "job/final-abc",
      signal: AbortSignal.timeout(5_000),
      fetchOutput,
    });
  return { dir, fetched, save, files: () => listFiles(dir) };
}

async function providerErrorOf(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe("saving a provider's output image", () => {
  it("re-encodes a fetched image as uploads are: a JPEG, long side capped, no metadata", async () => {
    const wide = await sharp(await jpegWithGps(3000, 1000))
      .png()
      .toBuffer();
    const withGps = await jpegWithGps(3000, 1000);
    for (const input of [wide, withGps]) {
      const { save, dir, fetched } = setup(input);
      const ref = await save({ url: "https://replicate.delivery/x/out-0.png" });
      expect(ref.key).toBe("job/final-abc.jpg");
      expect(fetched).toEqual(["https://replicate.delivery/x/out-0.png"]);
      const stored = await sharp(path.join(dir, ref.key)).metadata();
      // The JPEG's EXIF says "rotate 90°": applied, so its sides swap.
      const sides = [stored.width, stored.height].sort((a, b) => b - a);
      expect([stored.format, ...sides]).toEqual(["jpeg", MAX_LONG_SIDE_PX, 683]);
      expect(stored.exif).toBeUndefined();
      expect(hasGpsIfd(stored.exif)).toBe(false);
      expect(stored.icc === undefined || !stored.icc.includes(GPS_MARKERS.make)).toBe(true);
    }
  });

  it("re-encodes the offline studio's bytes too, without fetching anything", async () => {
    const { save, fetched, files } = setup(Buffer.alloc(0));
    const bytes = await sharp({ create: { width: 768, height: 1024, channels: 3, background: "#678" } })
      .jpeg()
      .toBuffer();
    await save({ bytes, contentType: "image/jpeg" }, null);
    expect(fetched).toEqual([]);
    expect(files()).toEqual(["/job/final-abc.jpg"]);
  });

  it("refuses an image over the pixel limit from its header, storing nothing", async () => {
    const { save, files } = setup(pngBomb());
    const error = await providerErrorOf(save({ url: "https://replicate.delivery/bomb.png" }));
    expect([error.kind, error.message]).toEqual([
      "permanent",
      "The image service returned an image with too many pixels to keep.",
    ]);
    expect(error.detail).toMatch(/too_many_pixels/);
    expect(files()).toEqual([]);
  });

  it("refuses a non-image behind an image signature, storing nothing", async () => {
    const html = Buffer.concat([PNG_SIGNATURE, Buffer.from("<html><script>alert(1)</script></html>")]);
    const { save, files } = setup(html);
    const error = await providerErrorOf(save({ url: "https://replicate.delivery/fake.png" }));
    expect([error.kind, error.message]).toEqual([
      "permanent",
      "The image service returned an image that could not be read.",
    ]);
    expect(error.detail).toMatch(/undecodable, 46 bytes/);
    expect(files()).toEqual([]);
  });

  it("refuses plain text outright", async () => {
    const error = await providerErrorOf(
      setup(Buffer.from("not an image")).save({ url: "https://replicate.delivery/t" }),
    );
    expect(error.message).toBe("The image service returned something that is not an image.");
  });

  it.each([
    ["refused", "permanent", /not download from/],
    ["too-large", "permanent", /larger than the 25 MB we accept/],
    ["gone", "permanent", /expired/],
    ["unavailable", "transient", /could not be downloaded yet/],
    ["timeout", "transient", /took too long/],
  ] as const)(
    "turns a %s download into a %s ProviderError with the reason in its detail",
    async (failure, kind, sentence) => {
      const { save, files } = setup(failure);
      const error = await providerErrorOf(save({ url: "https://replicate.delivery/x.png" }));
      expect([error.kind, error.message, error.detail]).toEqual([
        kind,
        expect.stringMatching(sentence),
        `output ${failure}: scripted ${failure}`,
      ]);
      expect(files()).toEqual([]);
    },
  );

  it("refuses a URL from a provider that declares no output sources, without fetching", async () => {
    const { save, fetched } = setup(Buffer.alloc(0));
    const error = await providerErrorOf(save({ url: "https://replicate.delivery/x.png" }, null));
    expect([error.kind, error.detail]).toEqual([
      "permanent",
      expect.stringMatching(/declares no output sources/),
    ]);
    expect(fetched).toEqual([]);
  });
});
