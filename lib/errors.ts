import { NextResponse } from "next/server";
import { ConfigError, StoreUnavailableError } from "@/lib/failures";
import { logEvent } from "@/lib/log";

/** Every error code the API answers with, and its HTTP status: one table. */
const STATUS_BY_CODE = {
  invalid_request: 400,
  missing_human_image: 400,
  missing_garment_image: 400,
  missing_occasion: 400,
  invalid_occasion: 400,
  invalid_field: 400,
  missing_job_id: 400,
  invalid_job_id: 400,
  invalid_file_key: 400,
  invalid_idempotency_key: 400,
  consent_required: 400,
  unauthorized: 401,
  not_owner: 403,
  cross_site_request: 403,
  not_found: 404,
  job_not_found: 404,
  file_not_found: 404,
  direct_uploads_disabled: 404,
  callbacks_disabled: 404,
  method_not_allowed: 405,
  upload_timeout: 408,
  idempotency_key_in_use: 409,
  redo_source_incomplete: 409,
  file_too_large: 413,
  request_too_large: 413,
  unsupported_media_type: 415,
  unsupported_image_type: 415,
  image_too_small: 422,
  image_too_large: 422,
  image_undecodable: 422,
  idempotency_key_reused: 422,
  rate_limited: 429,
  too_many_active_jobs: 429,
  internal_error: 500,
  misconfigured: 503,
  store_unavailable: 503,
  daily_budget_reached: 503,
} as const;

export type ErrorCode = keyof typeof STATUS_BY_CODE;

/** An error meant for the client: a sentence for a person and a machine code. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return STATUS_BY_CODE[this.code];
  }
}

/** Maps known failures to AppError; anything else is an internal error whose details stay in the log. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof StoreUnavailableError) {
    // The cause (a timeout, a refused connection, a refused command) is what the operator acts on.
    logEvent("store.unavailable", { error });
    return new AppError(
      "store_unavailable",
      "The job store is unavailable right now. Please try again in a moment.",
      { cause: error, headers: { "Retry-After": "5" } },
    );
  }
  if (error instanceof ConfigError) {
    console.error("[config]", error.message);
    return new AppError("misconfigured", "The server is not configured correctly.", { cause: error });
  }
  console.error("[internal]", error);
  return new AppError("internal_error", "Something went wrong on our side. Please try again.", {
    cause: error,
  });
}

/** The one way a route turns an error into `{ error, code }` JSON. */
export function errorResponse(error: unknown): NextResponse {
  const appError = toAppError(error);
  return NextResponse.json(
    { error: appError.message, code: appError.code },
    {
      status: appError.status,
      headers: { "Cache-Control": "no-store", ...appError.headers },
    },
  );
}
