import { z } from "zod";

/** The prediction fields we read; `output` is model-specific, so it is checked where it is used. */
export const predictionSchema = z.object({
  id: z.string().min(1),
  status: z.string(),
  output: z.unknown().optional(),
  error: z.unknown().optional(),
});

export type Prediction = z.infer<typeof predictionSchema>;

/** Face-swap models answer one URL, some a list of them: take the first. */
export function firstOutputUrl(output: unknown): string | null {
  const candidate = Array.isArray(output) ? output[0] : output;
  return typeof candidate === "string" && /^(https?:|data:image\/)/.test(candidate) ? candidate : null;
}

/** What a create runs: a version (on /v1/predictions), or an `owner/name` model at its latest. */
export type PredictionTarget = { version: string } | { model: string };

/**
 * `owner/name` → the model's own endpoint (Replicate's way to run an official model at its latest);
 * `owner/name:<version>` or a bare version id → `/v1/predictions` with that version.
 */
export function predictionTargetFor(model: string): PredictionTarget {
  const [ref = "", version] = model.split(":", 2);
  if (version) return { version };
  const parts = ref.split("/");
  if (parts.length === 1 && ref) return { version: ref };
  const [owner, name] = parts;
  if (parts.length !== 2 || !owner || !name) {
    throw new Error(
      `REPLICATE_FACESWAP_MODEL "${model}" is not owner/name, owner/name:version or a version id`,
    );
  }
  return { model: `${encodeURIComponent(owner)}/${encodeURIComponent(name)}` };
}

/** A page of `GET /v1/predictions`: newest first, 100 per page, `next` the following page's URL. */
export const predictionPageSchema = z.object({
  next: z.string().nullish(),
  results: z.array(z.looseObject({ id: z.string().min(1) })),
});

export type PredictionPage = z.infer<typeof predictionPageSchema>;
