import sharp from "sharp";
import {
  type Advice,
  type CheckContext,
  type CheckResult,
  type FindContext,
  type ImageResult,
  ProviderError,
  type Providers,
  type SubmitContext,
  type TaskProvider,
} from "@/lib/providers/types";

/** The vendor accepted the create and its answer never arrived: the task exists, the submit throws. */
export class LostAnswer {
  constructor(
    readonly error: Error = new ProviderError("transient", "The service did not answer in time.", {
      outcome: "unknown",
    }),
  ) {}
}

type CheckStep<Out> = CheckResult<Out> | Error;
type SubmitStep = "ok" | Error | LostAnswer;

/** A 429-like refusal: the vendor certainly created nothing. */
export const refused = (message = "The service is busy right now.", retryAfterMs?: number) =>
  new ProviderError("transient", message, { outcome: "not_created", retryAfterMs });
/** A create that failed with no verdict (a 5xx, a reset): it may or may not exist. */
export const unknownOutcome = (message = "The service had a hiccup.") =>
  new ProviderError("transient", message, { outcome: "unknown" });
/** A check's "no such task" (a 404). */
export const taskMissing = () =>
  new ProviderError("transient", "The service lost track of the task.", { taskMissing: true });

/**
 * A provider whose answers a test writes in advance: submits and checks are recorded, and each call
 * takes the next scripted answer (the last one repeats), or asks a decider the test gave. For
 * advance's unit tests only.
 */
export class ScriptedProvider<In, Out> implements TaskProvider<In, Out> {
  /** Tasks the vendor holds (accepted creates, including those whose answer was lost). */
  readonly submits: Array<{ input: In; idempotencyKey: string; taskId: string }> = [];
  /** Every create the engine started, accepted or not: what the spend bound counts. */
  calls = 0;
  readonly checks: string[] = [];
  readonly lookups: Array<{ idempotencyKey: string; since: number }> = [];
  readonly cancels: string[] = [];
  /** The signals the last submit and check were given. */
  lastSubmitSignal: AbortSignal | undefined;
  lastCheckSignal: AbortSignal | undefined;
  private submitScript: SubmitStep[] = ["ok"];
  private checkScript: CheckStep<Out>[];
  private submitDecider: ((call: number) => SubmitStep) | undefined;
  private checkDecider: ((taskId: string) => CheckStep<Out>) | undefined;
  /** Runs inside every submit, before it answers: tests move their clock or read the store here. */
  duringSubmit: (() => void | Promise<void>) | undefined;
  findTask?: TaskProvider<In, Out>["findTask"];
  cancel?: TaskProvider<In, Out>["cancel"];
  /** Deletes the vendor-side copy of a task (OpenAI's stored response); absent, like most vendors'. */
  forget?: TaskProvider<In, Out>["forget"];

  constructor(
    readonly name: string,
    readonly output: Out,
  ) {
    this.checkScript = [{ state: "succeeded", output }];
  }

  onSubmit(...steps: SubmitStep[]): this {
    this.submitScript = steps;
    return this;
  }

  onCheck(...steps: CheckStep<Out>[]): this {
    this.checkScript = steps;
    return this;
  }

  /** Each submit's answer chosen by `decide(callNumber)` (1-based), for adversarial runs. */
  decideSubmits(decide: (call: number) => SubmitStep): this {
    this.submitDecider = decide;
    return this;
  }

  decideChecks(decide: (taskId: string) => CheckStep<Out>): this {
    this.checkDecider = decide;
    return this;
  }

  /** Lets advance find tasks by idempotency key, as Kling's external_task_id allows. */
  withTaskLookup(): this {
    this.findTask = async (key: string, ctx: FindContext) => {
      this.lookups.push({ idempotencyKey: key, since: ctx.since });
      const found = this.submits.findLast((submit) => submit.idempotencyKey === key);
      return found ? { taskId: found.taskId } : null;
    };
    return this;
  }

  withCancel(): this {
    this.cancel = async (taskId: string, _ctx: CheckContext) => {
      this.cancels.push(taskId);
    };
    return this;
  }

  async submit(input: In, ctx: SubmitContext) {
    this.calls++;
    this.lastSubmitSignal = ctx.signal;
    await this.duringSubmit?.();
    const step =
      this.submitDecider?.(this.calls) ??
      (this.submitScript.length > 1 ? this.submitScript.shift() : this.submitScript[0]);
    if (step instanceof Error) throw step;
    const taskId = `${this.name}-task-${this.submits.length + 1}`;
    this.submits.push({ input, idempotencyKey: ctx.idempotencyKey, taskId });
    if (step instanceof LostAnswer) throw step.error;
    return { taskId };
  }

  async check(taskId: string, ctx: CheckContext): Promise<CheckResult<Out>> {
    this.checks.push(taskId);
    this.lastCheckSignal = ctx.signal;
    const step =
      this.checkDecider?.(taskId) ??
      (this.checkScript.length > 1 ? this.checkScript.shift() : this.checkScript[0]);
    if (!step) throw new Error("no scripted check answer");
    if (step instanceof Error) throw step;
    return step;
  }
}

export const SAMPLE_ADVICE: Advice = {
  summary: "Pair it with cream trousers.",
  pieces: ["Cream trousers", "Tan loafers"],
  stylePrompt: "A person in a red shirt at a garden party",
  source: "offline",
};

export async function sampleImage(): Promise<ImageResult> {
  const bytes = await sharp({ create: { width: 320, height: 320, channels: 3, background: "#a33" } })
    .jpeg()
    .toBuffer();
  return { image: { bytes, contentType: "image/jpeg" } };
}

export interface ScriptedProviders extends Providers {
  advice: ScriptedProvider<Parameters<Providers["advice"]["submit"]>[0], Advice>;
  style: ScriptedProvider<Parameters<Providers["style"]["submit"]>[0], ImageResult>;
  tryon: ScriptedProvider<Parameters<Providers["tryon"]["submit"]>[0], ImageResult>;
  faceswap: ScriptedProvider<Parameters<Providers["faceswap"]["submit"]>[0], ImageResult>;
}

export async function scriptedProviders(): Promise<ScriptedProviders> {
  const image = await sampleImage();
  return {
    advice: new ScriptedProvider("advice", SAMPLE_ADVICE),
    style: new ScriptedProvider("style", image),
    tryon: new ScriptedProvider("tryon", image),
    faceswap: new ScriptedProvider("faceswap", image),
  };
}

/** The four providers in pipeline order. */
export function allOf(providers: ScriptedProviders) {
  return [providers.advice, providers.style, providers.tryon, providers.faceswap] as const;
}
