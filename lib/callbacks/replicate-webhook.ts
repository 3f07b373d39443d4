import { z } from "zod";

const predictionSchema = z.object({ id: z.string() });

/** The prediction id a verified webhook names, for the log: the prediction itself is re-fetched. */
export function predictionIdOf(payload: unknown): string | null {
  const parsed = predictionSchema.safeParse(payload);
  return parsed.success ? parsed.data.id : null;
}
