import { z } from "zod";

/** Kling posts the bare task, or (some accounts) the task inside `data`. */
const klingCallbackBodySchema = z.union([
  z.object({ data: z.object({ task_id: z.string() }) }),
  z.object({ task_id: z.string() }),
]);

/** The task id the body claims, for the log only: the body is unsigned, so nothing else is read. */
export function klingTaskIdOf(body: Buffer): string | null {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  const parsed = klingCallbackBodySchema.safeParse(json);
  if (!parsed.success) return null;
  return "data" in parsed.data ? parsed.data.data.task_id : parsed.data.task_id;
}
