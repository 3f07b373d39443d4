/**
 * The consent statement a person agrees to before a start, written once for the page (which shows it
 * beside the start button) and the server (which records its version on the job). Client-safe: it
 * imports nothing. Change the wording, change the version: a job keeps the version it was agreed under.
 */

/** The version of CONSENT_STATEMENT; a job records it with the time of the start. */
export const CONSENT_VERSION = "2026-12-01";

/** The form field (or JSON member) a start must carry, with the value `true`. */
export const CONSENT_FIELD = "consent";

/** What the person confirms, in plain words. */
export const CONSENT_STATEMENT =
  "The photo is of me, or I have permission from the person in it, and I am 18 or older. " +
  "I agree that both photos are sent to the AI services that make the look (OpenAI, Replicate, Kling) " +
  "and kept here until the look expires or I delete it.";

/** What the server answers when a start does not carry consent. */
export const CONSENT_REQUIRED_MESSAGE =
  "Please confirm that the photo is of you (or that you have permission) and that you are 18 or older.";

/** A form field's or JSON member's value that counts as consent: exactly true (or the text "true"). */
export function isConsent(value: unknown): boolean {
  return value === true || value === "true";
}
