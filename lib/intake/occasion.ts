import { AppError } from "@/lib/errors";
import { MAX_OCCASION_CHARS } from "@/lib/start-rules";

/** Trimmed, NFC-normalised, 1–200 characters, no control characters. */
export function parseOccasion(raw: string | undefined): string {
  const occasion = raw?.normalize("NFC").trim() ?? "";
  if (!occasion) throw new AppError("missing_occasion", "Please describe the occasion.");
  if ([...occasion].length > MAX_OCCASION_CHARS) {
    throw new AppError("invalid_occasion", `The occasion must be at most ${MAX_OCCASION_CHARS} characters.`);
  }
  if (/\p{Cc}/u.test(occasion)) {
    throw new AppError("invalid_occasion", "The occasion contains characters that cannot be used.");
  }
  return occasion;
}
