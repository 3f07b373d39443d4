/**
 * One submit attempt of the studio form: the Idempotency-Key all its start requests carry, and in
 * Blob mode the URLs of its photos once uploaded. Submitting the same photos and occasion again
 * after an answer that was lost (or a 409 or 5xx) is the same attempt, so the server answers with
 * the look it may already have started instead of starting a second, paid one.
 */
export interface StartAttempt {
  key: string;
  uploadedUrls: string[] | null;
}

interface AttemptInputs {
  person: Blob;
  garment: Blob;
  occasion: string;
}

let open: { inputs: AttemptInputs; attempt: StartAttempt } | null = null;

/** 128 random bits; getRandomValues works on plain http too, where crypto.randomUUID is missing. */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The open attempt when these are its inputs, else a new attempt. */
export function attemptFor(inputs: AttemptInputs): StartAttempt {
  const same =
    open?.inputs.person === inputs.person &&
    open.inputs.garment === inputs.garment &&
    open.inputs.occasion === inputs.occasion;
  if (!same || !open) open = { inputs, attempt: { key: randomKey(), uploadedUrls: null } };
  return open.attempt;
}

/** The attempt's outcome is known (a look, or a refusal): the next submit is a new attempt. */
export function closeAttempt(attempt: StartAttempt): void {
  if (open?.attempt === attempt) open = null;
}
