import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { taskOfResponse } from "@/lib/callbacks/openai-event";
import { createOpenAIAdviceProvider } from "@/lib/providers/openai";
import { type OpenAIEmulator, startOpenAIEmulator } from "@/tests/emulators/openai";
import { garmentPhoto, personPhoto } from "@/tests/support/images";

const KEY = "test-openai-key";
const JOB = "3f0c5d1e-2b7a-4c9d-8e6f-1a2b3c4d5e6f";

let emulator: OpenAIEmulator;

beforeAll(async () => {
  emulator = await startOpenAIEmulator({ apiKey: KEY, taskDurationMs: 100 });
});
afterAll(() => emulator.close());

describe("an OpenAI webhook's response", () => {
  it("names the job and the create it answers, so a lost create is adopted", async () => {
    // plainFallback: the OpenAI settings grew it on main (OPENAI_PLAIN_FALLBACK); unused here.
    const config = {
      apiKey: KEY,
      baseURL: `${emulator.url}/v1`,
      model: "gpt-4.1-mini",
      plainFallback: false,
    };
    const [person, garment] = await Promise.all([personPhoto(200, 260), garmentPhoto("#1f4e9c", 200)]);
    const jpeg = await sharp(garment).jpeg().toBuffer();
    const provider = createOpenAIAdviceProvider(config);
    const idempotencyKey = `${JOB}-advice-2`;
    const { taskId } = await provider.submit(
      {
        occasion: "Garden party",
        person: { url: async () => null, load: async () => person },
        garment: { url: async () => null, load: async () => jpeg },
      },
      { idempotencyKey, signal: AbortSignal.timeout(10_000) },
    );
    expect(await taskOfResponse(config, taskId)).toEqual({
      jobId: JOB,
      foundTask: { idempotencyKey, taskId },
    });
    expect(await taskOfResponse(config, "resp_0000000000000000000000000000")).toBeNull();
  });
});
