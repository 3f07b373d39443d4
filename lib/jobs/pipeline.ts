import { randomBytes } from "node:crypto";
import type { BlobRef, BlobStore } from "@/lib/blobs/types";
import type { Artifacts, StoredJob } from "@/lib/jobs/job";
import { saveOutputImage } from "@/lib/outputs/save-output-image";
import type {
  CheckContext,
  CheckResult,
  FindContext,
  ImageInput,
  ImageResult,
  Providers,
  SubmitContext,
  TaskProvider,
} from "@/lib/providers/types";
import { type StepInfo, stepInfo } from "@/lib/step-catalogue";

/** What a step needs to build its input and keep its output. */
export interface StepScope {
  job: StoredJob;
  blobs: BlobStore;
  providers: Providers;
  signal: AbortSignal;
}

export interface RetryPolicy {
  /** Failures (of any kind) a step may have before the job fails. */
  maxFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * One row of the pipeline table: the step's catalogue entry (names and words) plus its behaviour,
 * with its provider types erased so the table can be a plain list.
 */
export interface Step extends StepInfo {
  /** The paid vendor this step uses when its keys are set (the offline studio otherwise). */
  vendor: "openai" | "kling" | "replicate";
  deadlineMs: number;
  retry: RetryPolicy;
  /** How long to wait between checks when the provider gives no hint. */
  checkIntervalMs: number;
  provider(providers: Providers): { name: string; canFindTasks: boolean; canCancel: boolean };
  submit(scope: StepScope, ctx: SubmitContext): Promise<{ taskId: string; nextCheckInMs?: number }>;
  check(scope: StepScope, taskId: string, ctx: CheckContext): Promise<CheckResult<unknown>>;
  findTask(scope: StepScope, idempotencyKey: string, ctx: FindContext): Promise<{ taskId: string } | null>;
  /** Cancels a task at the vendor, best effort; does nothing where the vendor has no cancel. */
  cancel(scope: StepScope, taskId: string, ctx: CheckContext): Promise<void>;
  /** Deletes the vendor's stored copy of a task where it can (OpenAI's stored response); else nothing. */
  forget(scope: StepScope, taskId: string, ctx: CheckContext): Promise<void>;
  /** Deletes every copy of the job's tasks the provider finds by the job id alone (the offline studio). */
  forgetJob(providers: Providers, jobId: string): Promise<void>;
  /** Keeps the output (images copied into our storage) and returns what it adds to the artifacts. */
  save(scope: StepScope, output: unknown): Promise<Partial<Artifacts>>;
}

interface StepDefinition<In, Out>
  extends Omit<
    Step,
    "provider" | "submit" | "check" | "findTask" | "cancel" | "forget" | "forgetJob" | "save"
  > {
  pick(providers: Providers): TaskProvider<In, Out>;
  /** `until`: the step's deadline (ms epoch), as long as a URL handed to its vendor may live. */
  buildInput(scope: StepScope, until: number): In;
  /** `from`: the provider that produced the output (it says where its output URLs may point). */
  save(scope: StepScope, output: Out, from: TaskProvider<In, Out>): Promise<Partial<Artifacts>>;
}

function defineStep<In, Out>(definition: StepDefinition<In, Out>): Step {
  const { pick, buildInput, save, ...meta } = definition;
  return {
    ...meta,
    provider: (providers) => ({
      name: pick(providers).name,
      canFindTasks: Boolean(pick(providers).findTask),
      canCancel: Boolean(pick(providers).cancel),
    }),
    submit: (scope, ctx) =>
      pick(scope.providers).submit(buildInput(scope, stepDeadline(scope.job, meta.deadlineMs)), ctx),
    check: (scope, taskId, ctx) => pick(scope.providers).check(taskId, ctx),
    findTask: async (scope, key, ctx) => (await pick(scope.providers).findTask?.(key, ctx)) ?? null,
    cancel: async (scope, taskId, ctx) => pick(scope.providers).cancel?.(taskId, ctx),
    forget: async (scope, taskId, ctx) => pick(scope.providers).forget?.(taskId, ctx),
    forgetJob: async (providers, jobId) => pick(providers).forgetJob?.(jobId),
    // The output came from this step's own provider, so its type is Out.
    save: (scope, output) => save(scope, output as Out, pick(scope.providers)),
  };
}

/** When the step in progress must be over: its start plus its deadline (isOverdue's bound). */
function stepDeadline(job: StoredJob, deadlineMs: number): number {
  return (job.current?.startedAt ?? Date.now()) + deadlineMs;
}

/**
 * An image of ours as a provider input: a URL the vendor can fetch until the step's deadline (public,
 * or signed for a private store, and then dead after it) when storage has one, the bytes always.
 */
function imageInput(scope: StepScope, ref: BlobRef | undefined, what: string, until: number): ImageInput {
  if (!ref) throw new Error(`${what} is missing from job ${scope.job.id}`);
  return {
    url: () => scope.blobs.fetchUrl(ref, until),
    load: async () => {
      const blob = await scope.blobs.get(ref);
      if (!blob) throw new Error(`${what} of job ${scope.job.id} is gone from storage`);
      return blob.bytes;
    },
  };
}

function saveImage(name: "style" | "tryon" | "final") {
  return async (
    scope: StepScope,
    output: ImageResult,
    from: TaskProvider<unknown, ImageResult>,
  ): Promise<Partial<Artifacts>> => {
    // A random part keeps a repeated save (after a crash) from colliding with an earlier one.
    const keyStem = `${scope.job.id}/${name}-${randomBytes(6).toString("hex")}`;
    const sources = from.outputSources;
    return {
      [name]: await saveOutputImage(scope.blobs, output.image, { sources, keyStem, signal: scope.signal }),
    };
  };
}

const IMAGE_RETRY: RetryPolicy = { maxFailures: 5, baseDelayMs: 1_000, maxDelayMs: 30_000 };
const MINUTE = 60_000;

/** The pipeline, in order. `advance` walks this table and never names a step. */
export const PIPELINE: readonly Step[] = [
  defineStep({
    ...stepInfo("advice"),
    vendor: "openai",
    deadlineMs: 3 * MINUTE,
    retry: { maxFailures: 4, baseDelayMs: 1_000, maxDelayMs: 20_000 },
    checkIntervalMs: 2_000,
    pick: (providers) => providers.advice,
    buildInput: (scope, until) => ({
      occasion: scope.job.occasion,
      person: imageInput(scope, scope.job.inputs.person, "The person's photo", until),
      garment: imageInput(scope, scope.job.inputs.garment, "The garment photo", until),
    }),
    save: async (_rt, advice) => ({ advice }),
  }),
  defineStep({
    ...stepInfo("style"),
    vendor: "kling",
    deadlineMs: 6 * MINUTE,
    retry: IMAGE_RETRY,
    checkIntervalMs: 3_000,
    pick: (providers) => providers.style,
    buildInput: (scope, until) => ({
      person: imageInput(scope, scope.job.inputs.person, "The person's photo", until),
      garment: imageInput(scope, scope.job.inputs.garment, "The garment photo", until),
      prompt: scope.job.artifacts.advice?.stylePrompt ?? `A styled look for: ${scope.job.occasion}`,
    }),
    save: saveImage("style"),
  }),
  defineStep({
    ...stepInfo("tryon"),
    vendor: "kling",
    deadlineMs: 6 * MINUTE,
    retry: IMAGE_RETRY,
    checkIntervalMs: 3_000,
    pick: (providers) => providers.tryon,
    buildInput: (scope, until) => ({
      styled: imageInput(scope, scope.job.artifacts.style, "The styled image", until),
      garment: imageInput(scope, scope.job.inputs.garment, "The garment photo", until),
    }),
    save: saveImage("tryon"),
  }),
  defineStep({
    ...stepInfo("faceswap"),
    vendor: "replicate",
    deadlineMs: 5 * MINUTE,
    retry: IMAGE_RETRY,
    checkIntervalMs: 2_000,
    pick: (providers) => providers.faceswap,
    buildInput: (scope, until) => ({
      target: imageInput(scope, scope.job.artifacts.tryon, "The try-on image", until),
      face: imageInput(scope, scope.job.inputs.person, "The person's photo", until),
    }),
    save: saveImage("final"),
  }),
];

export const TOTAL_STEPS = PIPELINE.length;

/** Every step has a deadline, counted from its start, so no job stays in progress forever. */
export function isOverdue(job: StoredJob, step: Step, now: number): boolean {
  return now - (job.current?.startedAt ?? 0) > step.deadlineMs;
}

/** `{jobId}-{step}-{attempt}`: one key per paid attempt, sent with every create of that attempt. */
export function idempotencyKeyOf(job: StoredJob, step: Step): string {
  return `${job.id}-${step.name}-${job.current?.attempt ?? 1}`;
}
