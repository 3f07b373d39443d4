import sharp from "sharp";
import type { Advice, CheckResult, ImageResult, Providers, TaskProvider } from "@/lib/providers/types";

type CheckStep<Out> = CheckResult<Out> | Error;
type SubmitStep = "ok" | Error;

/**
 * A provider whose answers a test writes in advance: submits and checks are recorded, and each call
 * takes the next scripted answer (the last one repeats). For advance's unit tests only.
 */
export class ScriptedProvider<In, Out> implements TaskProvider<In, Out> {
  readonly submits: Array<{ input: In; idempotencyKey: string; taskId: string }> = [];
  readonly checks: string[] = [];
  private submitScript: SubmitStep[] = ["ok"];
  private checkScript: CheckStep<Out>[];
  findTask?: TaskProvider<In, Out>["findTask"];

  constructor(
    readonly name: string,
    output: Out,
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

  /** Lets advance find tasks by idempotency key, as Kling's external_task_id allows. */
  withTaskLookup(): this {
    this.findTask = async (key) => {
      const found = this.submits.find((submit) => submit.idempotencyKey === key);
      return found ? { taskId: found.taskId } : null;
    };
    return this;
  }

  async submit(input: In, ctx: { idempotencyKey: string }) {
    const step = this.submitScript.length > 1 ? this.submitScript.shift() : this.submitScript[0];
    if (step instanceof Error) throw step;
    const taskId = `${this.name}-task-${this.submits.length + 1}`;
    this.submits.push({ input, idempotencyKey: ctx.idempotencyKey, taskId });
    return { taskId };
  }

  async check(taskId: string): Promise<CheckResult<Out>> {
    this.checks.push(taskId);
    const step = this.checkScript.length > 1 ? this.checkScript.shift() : this.checkScript[0];
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
