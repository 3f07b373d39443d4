/**
 * Why a look failed, as a machine reads it: the public view's `errorCode` (null unless `failed`),
 * so a client offers the right next action (a different photo, or try again later). Client-safe.
 */
export const JOB_ERROR_CODES = [
  /** The owner cancelled the look. */
  "cancelled",
  /** A step ran past its deadline. */
  "timed_out",
  /** A vendor refused the content (its safety rules). */
  "content_policy",
  /** A photo cannot be used (no person found, unreadable): a different photo is the fix. */
  "unusable_photo",
  /** A vendor failed or was unreachable after our retries: try again later. */
  "provider_unavailable",
  /** Anything else: our side. */
  "internal",
] as const;
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];
