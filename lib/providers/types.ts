/**
 * The contract every provider speaks, offline or real (docs/architecture.md, "The pipeline").
 *
 * Every vendor folder (openai/, kling/, replicate/) has the same rooms: `index.ts` (the options type
 * and the factory building the TaskProvider), `client.ts` (`create<Vendor>Client`: the vendor's
 * operations, official SDK inside where one exists, every failure a ProviderError), `schemas.ts` (the
 * answers, checked with zod), `errors.ts` (`<VENDOR>_MESSAGES`, the sentences a person reads, and the
 * classification), `output-sources.ts` where the vendor answers with image URLs, and one file per
 * lookup (kling/find-task.ts, replicate/find-prediction.ts, openai/response-key.ts). What every vendor
 * shares lives here once: create-outcome.ts, deadline.ts, retry-after.ts, redact.ts, setting-hint.ts,
 * vendor-timeouts.ts, api-origin.ts.
 */

/** Classifies a failure: transient ones are retried with backoff, permanent ones end the job. */
export type ProviderErrorKind = "transient" | "permanent";

/**
 * What a failed create says about the paid task. `not_created`: the vendor certainly made nothing
 * (refused connection, DNS failure, a 4xx validation or auth answer, a 429): safe to retry.
 * `unknown`: the request may have been accepted (timeout after sending, reset, 5xx, malformed
 * answer): never repeated blindly. A submit failure without an outcome counts as `unknown`.
 */
export type CreateOutcome = "not_created" | "unknown";

/**
 * What a final failure says a person can do, where the vendor's documented answer tells:
 * `content_policy` (the vendor's safety rules refused the content), `unusable_photo` (a photo
 * cannot be used: unreadable, no face found), `unavailable` (the vendor will not serve us: auth,
 * no credit, model gone). The engine maps it to the job's errorCode (lib/jobs/error-code.ts).
 */
export type ProviderFailureReason = "content_policy" | "unusable_photo" | "unavailable";

/**
 * A provider failure. `message` is shown to the person; `detail` (the raw vendor answer) goes to the log only.
 */
export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  readonly detail: string | undefined;
  readonly retryAfterMs: number | undefined;
  /** Set by a submit that failed: whether the paid task may exist anyway. */
  readonly outcome: CreateOutcome | undefined;
  /** Set by a check: the vendor does not know the task (a 404). It is checked again before a new attempt. */
  readonly taskMissing: boolean;
  /** The vendor's HTTP status when it answered with one: adapters branch on it (a 404), the engine does not. */
  readonly httpStatus: number | undefined;
  /** Why, for machines, where the vendor's answer says so; undefined: nothing more is known. */
  readonly reason: ProviderFailureReason | undefined;

  constructor(
    kind: ProviderErrorKind,
    message: string,
    options: {
      detail?: string;
      retryAfterMs?: number;
      outcome?: CreateOutcome;
      taskMissing?: boolean;
      httpStatus?: number;
      reason?: ProviderFailureReason;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.kind = kind;
    this.detail = options.detail;
    this.retryAfterMs = options.retryAfterMs;
    this.outcome = options.outcome;
    this.taskMissing = options.taskMissing ?? false;
    this.httpStatus = options.httpStatus;
    this.reason = options.reason;
  }
}

/** An image handed to a provider: a URL it can fetch when our storage has one, its bytes always. */
export interface ImageInput {
  /**
   * A URL the provider can fetch from the internet until the step's deadline (a public store's URL, or
   * a signed one of a private store, valid that long only), or null when the internet cannot reach our
   * storage (local files). Async: signing may ask the store for a token.
   */
  url(): Promise<string | null>;
  /** Loads the normalised JPEG bytes. */
  load(): Promise<Buffer>;
}

/**
 * Where a provider's output URLs may point. Anything else a vendor answers with is refused before it is
 * fetched: an output URL is input someone else chose (issue #12).
 */
export interface OutputSources {
  /**
   * The vendor's own delivery hosts, fetched over https from public addresses only (checked after DNS).
   * `*.example.com` matches every subdomain of example.com, not example.com itself.
   */
  deliveryHosts: readonly string[];
  /**
   * The origin of the configured API base URL (the vendor, an emulator or a proxy the operator chose):
   * trusted as configured, http and private addresses included. Null when the base URL cannot be parsed.
   */
  apiOrigin: string | null;
}

/** An image a provider produced: a (soon expiring) URL to copy, or the bytes themselves. */
export type ImageOutput = { url: string } | { bytes: Buffer; contentType: string };

export interface SubmitContext {
  /** `{jobId}-{step}-{attempt}`: the same key for a retried submit of the same attempt. */
  idempotencyKey: string;
  signal: AbortSignal;
}

export interface CheckContext {
  signal: AbortSignal;
}

export interface FindContext extends CheckContext {
  /** When the submit being looked for began (ms epoch): a lookup need search no further back. */
  since: number;
}

export type CheckResult<Out> =
  /** `nextCheckInMs`: when the provider expects a change worth checking for (poll hint). */
  | { state: "running"; progress?: number; nextCheckInMs?: number }
  | { state: "succeeded"; output: Out }
  | { state: "failed"; error: ProviderError };

export interface TaskProvider<In, Out> {
  /** Short name for logs and metrics, e.g. "kling-style" or "local-advice". */
  readonly name: string;
  /** Where output URLs may point; a provider answering with URLs declares it, else its URLs are refused. */
  readonly outputSources?: OutputSources;
  /** Creates the paid task. `nextCheckInMs`: when a first check is worth making (poll hint). */
  submit(input: In, ctx: SubmitContext): Promise<{ taskId: string; nextCheckInMs?: number }>;
  check(taskId: string, ctx: CheckContext): Promise<CheckResult<Out>>;
  /**
   * Finds a task created earlier with this idempotency key, for a submit whose answer was lost.
   * Null means the vendor has no such task (the lookup is authoritative); providers that cannot look
   * tasks up leave it out, and a lookup that cannot answer this time throws.
   */
  findTask?(idempotencyKey: string, ctx: FindContext): Promise<{ taskId: string } | null>;
  /**
   * Cancels a task at the vendor (a duplicate, a timed-out or a cancelled one), best effort.
   * Vendors without a cancel API leave it out.
   */
  cancel?(taskId: string, ctx: CheckContext): Promise<void>;
  /**
   * Deletes the copy the vendor keeps of a task (its input photos and output), where an API can
   * (OpenAI: a stored response). Done once the output is saved, and when a look is deleted. A task
   * the vendor no longer knows counts as deleted. Vendors that keep nothing we can delete leave it out.
   */
  forget?(taskId: string, ctx: CheckContext): Promise<void>;
  /**
   * Deletes every copy of a job's tasks the provider can find without their ids (the offline
   * studio finds its own by the `{jobId}-` idempotency keys): what a deleted or expired look uses
   * once its record, and the task ids in it, may be gone.
   */
  forgetJob?(jobId: string): Promise<void>;
}

/** The styling advice: what the person reads, plus the prompt that drives the style image. */
export interface Advice {
  summary: string;
  pieces: string[];
  stylePrompt: string;
  /** Who wrote it: "offline" marks the local advisor's preview, never mistaken for AI output. */
  source: "offline" | "openai";
}

export interface AdviceInput {
  occasion: string;
  person: ImageInput;
  garment: ImageInput;
}

export interface StyleInput {
  person: ImageInput;
  garment: ImageInput;
  prompt: string;
}

export interface TryOnInput {
  styled: ImageInput;
  garment: ImageInput;
}

export interface FaceSwapInput {
  /** The image whose face is replaced (the try-on result). */
  target: ImageInput;
  /** The person's own photo, whose face is put back. */
  face: ImageInput;
}

export interface ImageResult {
  image: ImageOutput;
}

/** One provider per step; the offline studio or a real vendor, chosen by configuration. */
export interface Providers {
  advice: TaskProvider<AdviceInput, Advice>;
  style: TaskProvider<StyleInput, ImageResult>;
  tryon: TaskProvider<TryOnInput, ImageResult>;
  faceswap: TaskProvider<FaceSwapInput, ImageResult>;
}
