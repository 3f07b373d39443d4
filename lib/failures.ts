/**
 * Failures of the process's parts that lib/errors.ts turns into an answer. They live in this leaf
 * module, below both the parts that throw them and the mapper, so no import runs upward.
 */

/** Thrown at start-up for a configuration that cannot work; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Thrown when the store cannot be reached: becomes 503 store_unavailable. */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super("The job store cannot be reached", { cause });
    this.name = "StoreUnavailableError";
  }
}
