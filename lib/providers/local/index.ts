import {
  type Advice,
  type CheckResult,
  type ImageResult,
  ProviderError,
  type Providers,
  type TaskProvider,
} from "@/lib/providers/types";
import { adviseOffline } from "./advisor";
import { measureGarmentColors, nearestNamedColor } from "./colors";
import { restoreFace, styleLook, tryOnGarment } from "./studio";
import {
  deleteTasksOfJob,
  findTaskIdByKey,
  type LocalTaskKind,
  type LocalTaskRecord,
  loadOutputImage,
  loadTask,
  newTaskId,
  saveTask,
} from "./task-files";

export { listLocalTasks } from "./task-files";

/** Options of the offline studio: real image work, paced like a remote provider. */
export interface LocalProvidersOptions {
  /** Folder for task records and outputs; every server process on the machine shares it. */
  dir: string;
  /** How long each task reports "running" after its submit, so progress is visible. */
  stepMs: number;
  /** The clock, injectable so tests need not wait. */
  now?: () => number;
  /** A step whose tasks end in a permanent failure: shows the failure path without a real fault. */
  failStep?: LocalTaskKind | null;
}

/** What a step's work produced: the advice, or a JPEG. */
type Product = { advice: Advice } | { image: Buffer };

interface LocalStep<In, Loaded, Out> {
  kind: LocalTaskKind;
  /** Fetches the inputs; its errors propagate, because a storage hiccup is worth retrying. */
  load(input: In): Promise<Loaded>;
  /** The work itself; its errors (an unreadable photo) become a permanent task failure. */
  work(loaded: Loaded): Promise<Product>;
  /** The check output from the stored record and image, or null when it is missing. */
  present(task: LocalTaskRecord, image: Buffer | null): Out | null;
}

const failed = (message: string, detail?: string): CheckResult<never> => ({
  state: "failed",
  error: new ProviderError("permanent", message, { detail }),
});

function createLocalProvider<In, Loaded, Out>(
  step: LocalStep<In, Loaded, Out>,
  { dir, stepMs, now = Date.now, failStep }: LocalProvidersOptions,
): TaskProvider<In, Out> {
  return {
    name: `local-${step.kind}`,

    async submit(input, ctx) {
      ctx.signal.throwIfAborted();
      const createdAt = now();
      const loaded = await step.load(input);
      let product: Product | undefined;
      let failure: LocalTaskRecord["failure"];
      try {
        if (step.kind === failStep) {
          failure = {
            message: "The offline studio was set to fail at this step (LOCAL_STUDIO_FAIL_STEP).",
            detail: `LOCAL_STUDIO_FAIL_STEP=${failStep}`,
          };
        } else {
          product = await step.work(loaded);
        }
      } catch (error) {
        failure = { message: "The offline studio could not read the photos.", detail: String(error) };
      }
      const record: LocalTaskRecord = {
        taskId: newTaskId(),
        kind: step.kind,
        idempotencyKey: ctx.idempotencyKey,
        createdAt,
        readyAt: createdAt + stepMs,
        advice: product && "advice" in product ? product.advice : undefined,
        failure,
      };
      try {
        await saveTask(dir, record, product && "image" in product ? product.image : undefined);
      } catch (error) {
        throw new ProviderError("transient", "The offline studio could not save its work.", {
          cause: error,
          detail: String(error),
        });
      }
      return { taskId: record.taskId, nextCheckInMs: Math.max(0, record.readyAt - now()) };
    },

    async check(taskId) {
      const task = await loadTask(dir, taskId);
      if (!task || task.kind !== step.kind) return failed("The offline studio has no record of this task.");
      const left = task.readyAt - now();
      if (left > 0) {
        const total = Math.max(1, task.readyAt - task.createdAt);
        return { state: "running", progress: Math.max(0, 1 - left / total), nextCheckInMs: left };
      }
      if (task.failure) return failed(task.failure.message, task.failure.detail);
      const image = step.kind === "advice" ? null : await loadOutputImage(dir, taskId);
      const output = step.present(task, image);
      return output === null
        ? failed("The offline studio lost this task's result.")
        : { state: "succeeded", output };
    },

    async findTask(idempotencyKey) {
      const taskId = await findTaskIdByKey(dir, idempotencyKey);
      return taskId ? { taskId } : null;
    },

    // No per-task forget: the task files are this studio's ledger (which step ran how often) for as
    // long as the look lives; they go with the look, by job id.
    async forgetJob(jobId) {
      await deleteTasksOfJob(dir, jobId);
    },
  };
}

const presentImage = (_task: LocalTaskRecord, image: Buffer | null): ImageResult | null =>
  image ? { image: { bytes: image, contentType: "image/jpeg" } } : null;

/** The four offline providers: the default when no AI service is configured, and the test double. */
export function createLocalProviders(options: LocalProvidersOptions): Providers {
  return {
    advice: createLocalProvider(
      {
        kind: "advice",
        load: async ({ occasion, garment }) => ({ occasion, garment: await garment.load() }),
        work: async ({ occasion, garment }) => {
          const { dominant } = await measureGarmentColors(garment);
          return { advice: adviseOffline(occasion, nearestNamedColor(dominant)) };
        },
        present: (task) => task.advice ?? null,
      },
      options,
    ),
    // The prompt is for generative models; the offline studio grades the photo toward the garment instead.
    style: createLocalProvider(
      {
        kind: "style",
        load: async ({ person, garment }) => [await person.load(), await garment.load()] as const,
        work: async ([person, garment]) => ({ image: await styleLook(person, garment) }),
        present: presentImage,
      },
      options,
    ),
    tryon: createLocalProvider(
      {
        kind: "tryon",
        load: async ({ styled, garment }) => [await styled.load(), await garment.load()] as const,
        work: async ([styled, garment]) => ({ image: await tryOnGarment(styled, garment) }),
        present: presentImage,
      },
      options,
    ),
    faceswap: createLocalProvider(
      {
        kind: "faceswap",
        load: async ({ target, face }) => [await target.load(), await face.load()] as const,
        work: async ([target, face]) => ({ image: await restoreFace(target, face) }),
        present: presentImage,
      },
      options,
    ),
  };
}
