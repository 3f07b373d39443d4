import { z } from "zod";
import { AppError } from "@/lib/errors";
import { parseJobId } from "@/lib/jobs/job-id";
import { logEvent } from "@/lib/log";
import { isKlingCallbackToken } from "./kling-token";

/** Kling posts the bare task, or (some accounts) the task inside `data`. */
const klingCallbackBodySchema = z.union([
  z.object({ data: z.object({ task_id: z.string() }) }),
  z.object({ task_id: z.string() }),
]);

/** The job a Kling callback is for, once its URL token checks out (else 401 `unauthorized`). */
export function verifyKlingCallback(query: URLSearchParams, secretKey: string): string {
  const jobId = parseJobId(query.get("jobId"));
  if (!isKlingCallbackToken(secretKey, jobId, query.get("token"))) {
    logEvent("callback.refused", { source: "kling", jobId, reason: "bad_token" });
    throw new AppError("unauthorized", "This callback could not be verified.");
  }
  return jobId;
}

/** The task id the body claims, for the log only: the body is unsigned, so nothing else is read. */
export function klingTaskIdOf(body: unknown): string | null {
  const parsed = klingCallbackBodySchema.safeParse(body);
  if (!parsed.success) return null;
  return "data" in parsed.data ? parsed.data.data.task_id : parsed.data.task_id;
}
