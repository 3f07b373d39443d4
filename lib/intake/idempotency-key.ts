import { AppError } from "@/lib/errors";

/** Stripe's rule (any key up to 255 characters), narrowed to visible ASCII. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The request's `Idempotency-Key`, or null when it sent none; 400 for an unusable one. */
export function idempotencyKeyOf(request: Request): string | null {
  const key = request.headers.get("idempotency-key");
  if (key === null) return null;
  if (!KEY_PATTERN.test(key)) {
    throw new AppError(
      "invalid_idempotency_key",
      "The Idempotency-Key header must be 1 to 255 visible ASCII characters, such as a random UUID.",
    );
  }
  return key;
}
