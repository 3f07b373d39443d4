import { z } from "zod";

/** Every Kling answer: `code` 0 means success. Parsed loosely: unknown fields pass, types bend. */
export const klingEnvelopeSchema = z
  .object({
    code: z.coerce.number(),
    message: z.string().nullish(),
    request_id: z.string().nullish(),
    data: z.unknown().optional(),
  })
  .loose();

/** Kling's ids and times arrive as numbers or strings depending on the endpoint and client. */
const looseId = z.union([z.string(), z.number()]).transform(String);
const looseTime = z.union([z.number(), z.string()]).nullish();

export const klingTaskSchema = z
  .object({
    task_id: looseId,
    task_status: z.string(),
    task_status_msg: z.string().nullish(),
    task_info: z.object({ external_task_id: z.string().nullish() }).loose().nullish(),
    task_result: z
      .object({
        images: z
          .array(z.object({ index: z.number().nullish(), url: z.string().nullish() }).loose())
          .nullish(),
      })
      .loose()
      .nullish(),
    created_at: looseTime,
    updated_at: looseTime,
  })
  .loose();

export type KlingTask = z.infer<typeof klingTaskSchema>;

/** The list endpoints answer an array of tasks; entries that do not parse are skipped, not fatal. */
export function parseTaskList(data: unknown): KlingTask[] {
  if (!Array.isArray(data)) return [];
  return data.flatMap((item) => {
    const parsed = klingTaskSchema.safeParse(item);
    return parsed.success ? [parsed.data] : [];
  });
}
