import { CONSENT_FIELD } from "@/lib/consent";

/**
 * The one way tests and bench clients give a start the person's consent (lib/consent.ts), as the page
 * does: every start that should succeed goes through one of these, so a change to the field is one edit.
 */

/** The consent field and its value, for a form built part by part. */
export const CONSENT_PART: [string, string] = [CONSENT_FIELD, "true"];

/** Adds the consent field to a start form; returns the same form. */
export function withConsent(form: FormData): FormData {
  form.set(CONSENT_FIELD, "true");
  return form;
}

/** A JSON start body with the consent member. */
export function withConsentJson<T extends object>(body: T): T & { consent: true } {
  return { ...body, consent: true };
}

/** The consent part of a hand-written multipart body, for tests that stream their own bytes. */
export function consentPartOf(boundary: string): string {
  return `--${boundary}\r\nContent-Disposition: form-data; name="${CONSENT_FIELD}"\r\n\r\ntrue\r\n`;
}
