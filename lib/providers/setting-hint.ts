import { logEvent } from "@/lib/log";

/**
 * One log line for the operator when a vendor's answer points at our own configuration (a wrong base
 * URL, model or key): which setting looks wrong, its value when it is not a secret, and what the vendor
 * answered. The person only reads the step's sentence; fixing this is the operator's job.
 */
export function logSuspectSetting(
  setting: string,
  answered: string,
  values: Record<string, string | undefined> = {},
): void {
  logEvent("config.suspect", { setting, ...values, answered: answered.slice(0, 300) });
}

/** A required setting, or the error that names it (`KLING_SECRET_KEY is not set`) when it is empty. */
export function requireSetting(name: string, value: string | undefined): string {
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
