import type { ResponseCreateParamsNonStreaming } from "openai/resources/responses/responses";
import type { AdviceInput, ImageInput } from "@/lib/providers/types";
import { ADVICE_FORMAT_NAME, ADVICE_JSON_SCHEMA, adviceInstructions } from "./schemas";

/** The metadata field naming the submit a response belongs to (read back by `readResponseKey`). */
export const SUBMIT_KEY_FIELD = "idempotency_key";

/** A URL the API can read: our storage's (public or signed) when there is one, else the bytes inline. */
async function imageUrlFor(image: ImageInput): Promise<string> {
  const url = await image.url();
  if (url !== null) return url;
  const bytes = await image.load();
  return `data:image/jpeg;base64,${bytes.toString("base64")}`;
}

/** The advice request, minus the background flag (the fallback sends the same body without it). */
export async function buildAdviceRequest(
  input: AdviceInput,
  model: string,
  idempotencyKey: string,
): Promise<ResponseCreateParamsNonStreaming> {
  const [person, garment] = await Promise.all([imageUrlFor(input.person), imageUrlFor(input.garment)]);
  return {
    model,
    store: true,
    input: [
      {
        role: "user",
        content: [
          { type: "input_text", text: adviceInstructions(input.occasion) },
          { type: "input_image", image_url: person, detail: "auto" },
          { type: "input_image", image_url: garment, detail: "auto" },
        ],
      },
    ],
    text: {
      format: {
        type: "json_schema",
        name: ADVICE_FORMAT_NAME,
        schema: { ...ADVICE_JSON_SCHEMA },
        strict: true,
      },
    },
    // Shows which job step a response belongs to, in OpenAI's dashboard and in our emulator.
    metadata: { [SUBMIT_KEY_FIELD]: idempotencyKey },
  };
}
