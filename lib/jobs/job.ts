import { z } from "zod";
import { JOB_ERROR_CODES } from "@/lib/job-errors";
import { JOB_STATUSES, type JobStatus, STEP_NAMES } from "@/lib/step-catalogue";

const blobRefSchema = z.object({ key: z.string(), url: z.string() });

const adviceSchema = z.object({
  summary: z.string(),
  pieces: z.array(z.string()),
  stylePrompt: z.string(),
  source: z.enum(["offline", "openai"]),
});

/** The provider task of the step in progress. */
const currentStepSchema = z.object({
  /** 1-based attempt; the idempotency key carries it. */
  attempt: z.number().int().positive(),
  /** When the step began (ms epoch): its deadline counts from here. */
  startedAt: z.number(),
  /** When a submit was started and its task id not yet saved (ms epoch), else null. */
  submittingAt: z.number().nullable(),
  taskId: z.string().nullable(),
  /** Failed attempts so far, for the log and the attempt cap. */
  failures: z.number().int().nonnegative(),
  lastError: z.string().nullable(),
  // The fields below came with the spend bound; their defaults let older records parse.
  /** Creates started in this step (counted before each call): MAX_CREATES_PER_STEP bounds it. */
  creates: z.number().int().nonnegative().default(0),
  /** Creates of this step whose outcome stayed unknown (no lookup could tell), so were repeated blind. */
  unknownOutcomes: z.number().int().nonnegative().default(0),
  /** Consecutive checks that found no such task (a 404): the second starts a new attempt. */
  missingChecks: z.number().int().nonnegative().default(0),
  /** When a sweep or callback stopped before this step's create because nobody watched (ms epoch). */
  pausedAt: z.number().nullable().default(null),
  // The fields below came with learned step times (lib/jobs/step-timing.ts); null/0 in older records.
  /** When the current attempt's create was sent (ms epoch): the task's clock starts here. */
  sentAt: z.number().nullable().default(null),
  /** When this step's first create was sent (ms epoch): its progress counts from here, across attempts. */
  firstSentAt: z.number().nullable().default(null),
  /** The current task's expected duration (ms), fixed when its create was sent. */
  expectedMs: z.number().nonnegative().nullable().default(null),
  /** `expectedMs` was learned from earlier tasks (else a cold-start default: the provider's hint rules). */
  learned: z.boolean().default(false),
  /** Checks of the current task that found it running. */
  runningChecks: z.number().int().nonnegative().default(0),
  /** When a check last found the current task running (ms epoch), else null. */
  lastRunningAt: z.number().nullable().default(null),
});

/**
 * What the job expects of its steps (ms each, in pipeline order), made when its first create was
 * sent. `weightsMs` never change, so progress never moves backwards; `expectedMs` are refreshed at
 * each create from the learned times, for the estimate of when the look is ready.
 */
const planSchema = z.object({
  weightsMs: z.array(z.number().positive()),
  expectedMs: z.array(z.number().positive()),
});

/** The stored job: the public view plus everything the browser must never see. */
export const storedJobSchema = z.object({
  id: z.string().uuid(),
  version: z.number().int().nonnegative(),
  status: z.enum(JOB_STATUSES),
  /** Index into the pipeline of the step in progress (equals its length once completed). */
  stepIndex: z.number().int().nonnegative(),
  current: currentStepSchema.nullable(),
  occasion: z.string(),
  inputs: z.object({ person: blobRefSchema, garment: blobRefSchema }),
  artifacts: z.object({
    advice: adviceSchema.optional(),
    style: blobRefSchema.optional(),
    tryon: blobRefSchema.optional(),
    final: blobRefSchema.optional(),
  }),
  /** The message a person reads when the job failed. */
  error: z.string().nullable(),
  /** No provider check before this time (ms epoch): the poll throttle. */
  nextCheckAt: z.number(),
  /** Creates started over all steps (counted before each call): MAX_CREATES_PER_JOB bounds it. */
  creates: z.number().int().nonnegative().default(0),
  /** When a person's poll last moved the job (ms epoch); null: not since it was created. */
  watchedAt: z.number().nullable().default(null),
  /** The hash of the owner cookie of the browser that made it (lib/owners); null: nobody may change it. */
  ownerHash: z.string().nullable().default(null),
  /** The consent statement's version the person agreed to, and when (ms epoch). Never public. */
  consent: z.object({ version: z.string(), at: z.number() }).nullable().default(null),
  /** Why it failed, for machines (lib/job-errors.ts); null unless failed. */
  errorCode: z.enum(JOB_ERROR_CODES).nullable().default(null),
  /** The look this one redoes, and the step it redoes from (issue 15); null for a fresh start. */
  redo: z
    .object({ of: z.string(), from: z.enum(STEP_NAMES) })
    .nullable()
    .default(null),
  /** The job's expected step times (planSchema); null until its first create, and in older records. */
  plan: planSchema.nullable().default(null),
  createdAt: z.number(),
  updatedAt: z.number(),
});

export type StoredJob = z.infer<typeof storedJobSchema>;
export type CurrentStep = z.infer<typeof currentStepSchema>;
export type JobPlan = z.infer<typeof planSchema>;
/** A record as written by code from before a field existed: the defaulted fields may be missing. */
export type StoredJobInput = z.input<typeof storedJobSchema>;
export type Artifacts = StoredJob["artifacts"];

export function isTerminal(status: JobStatus): boolean {
  return status === "completed" || status === "failed";
}

/** Parses a stored record, so a corrupt or foreign value fails loudly instead of deep in advance. */
export function parseStoredJob(raw: string): StoredJob {
  return storedJobSchema.parse(JSON.parse(raw));
}

/** Stopped before a paid create because nobody watched: it waits for a person, not for a sweep. */
export function isPaused(job: StoredJob): boolean {
  return !isTerminal(job.status) && job.current?.pausedAt != null;
}
