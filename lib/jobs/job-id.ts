import { AppError } from "@/lib/errors";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A job id is a lowercase v4 UUID; anything else is refused before it reaches the store. */
export function parseJobId(raw: string | null): string {
  if (!raw) throw new AppError("missing_job_id", "The jobId query parameter is missing.");
  if (!UUID_V4.test(raw)) throw new AppError("invalid_job_id", "The jobId is not a valid job id.");
  return raw;
}
