import { z } from "zod";
import { JOB_ERROR_CODES } from "@/lib/job-errors";
import { JOB_STATUSES } from "@/lib/step-catalogue";

/**
 * What the browser sees of a job (the seed design's fields, plus progress hints; nothing internal),
 * and when it polls again. Client-safe: the status route builds it (lib/jobs/public-view.ts) and the
 * polling hook parses it with this schema.
 */
export const publicJobSchema = z.object({
  jobId: z.string(),
  status: z.enum(JOB_STATUSES),
  statusMessage: z.string(),
  imageUrl: z.string().nullable(),
  /** The person's own photo, for the before/after compare: shown to the owner only (null otherwise). */
  personImageUrl: z.string().nullable(),
  error: z.string().nullable(),
  /** Why it failed, for machines (lib/job-errors.ts): null unless `failed`. */
  errorCode: z.enum(JOB_ERROR_CODES).nullable(),
  /** The caller owns this look (its browser made it): the page offers the owner's actions. */
  owned: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  occasion: z.string(),
  advice: z
    .object({ summary: z.string(), pieces: z.array(z.string()), source: z.enum(["offline", "openai"]) })
    .nullable(),
  step: z.number().int(),
  totalSteps: z.number().int(),
  /** How far along the look is, 0–1; never lower than in an earlier view of the same job. */
  progress: z.number().min(0).max(1),
  /** When the look should be ready (ISO 8601), or null when there is no basis for an estimate. */
  estimatedReadyAt: z.string().nullable(),
  /** When polling again is worth it; null once the job is finished. */
  pollAfterMs: z.number().nullable(),
});
export type PublicJob = z.infer<typeof publicJobSchema>;

/** The one poll-delay policy: never sooner than 1 s (a poll costs a store read), never later than 5 s. */
export const MIN_POLL_MS = 1_000;
export const MAX_POLL_MS = 5_000;

export function clampPollDelay(delayMs: number): number {
  return Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, delayMs));
}
