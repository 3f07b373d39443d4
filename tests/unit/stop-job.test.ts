import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { advance } from "@/lib/jobs/advance";
import { stopJob } from "@/lib/jobs/stop-job";
import { AdvanceHarness, JOB_ID } from "@/tests/support/advance-harness";
import { allOf, SAMPLE_ADVICE, type ScriptedProviders } from "@/tests/support/scripted-provider";

let h: AdvanceHarness;
let providers: ScriptedProviders;
const CANCELLED = { code: "cancelled", message: "You cancelled this look." } as const;

beforeEach(async () => {
  h = await AdvanceHarness.start();
  providers = h.providers;
});
afterEach(async () => h.close());

describe("stopJob: a job ended from outside its advance", () => {
  it("fails the job with the reason, cancels its running task, and no later advance submits anything", async () => {
    await h.createJob();
    providers.advice.withCancel().onCheck({ state: "running" });
    await h.advanceWhenDue(); // the advice task is created and running
    const stopped = await stopJob(h.deps, JOB_ID, CANCELLED);
    expect(stopped).toMatchObject({ status: "failed", error: CANCELLED.message, errorCode: "cancelled" });
    expect(providers.advice.cancels).toEqual(["advice-task-1"]);
    for (let i = 0; i < 20; i++) await h.advanceWhenDue({ ignoreSchedule: true });
    expect(allOf(providers).map((p) => p.submits.length)).toEqual([1, 0, 0, 0]);
    expect((await h.read()).version).toBe(stopped?.version);
  });

  it("leaves a finished job as it is, and answers null for none", async () => {
    await h.createJob({ status: "completed", stepIndex: 4, current: null });
    expect((await stopJob(h.deps, JOB_ID, CANCELLED))?.status).toBe("completed");
    expect(await stopJob(h.deps, "6d2c7a3e-0b1f-4e8a-9c5d-3f7e1a2b4c6d", CANCELLED)).toBeNull();
  });

  it("cancels a task whose create was on the wire when the job was stopped", async () => {
    await h.createJob();
    providers.advice.withCancel();
    providers.advice.duringSubmit = async () => {
      await stopJob(h.deps, JOB_ID, CANCELLED);
    };
    await advance(JOB_ID, h.deps);
    expect(providers.advice.submits.map((s) => s.taskId)).toEqual(["advice-task-1"]);
    expect(providers.advice.cancels).toEqual(["advice-task-1"]);
    expect((await h.read()).errorCode).toBe("cancelled");
  });
  it("a check finding the task done while another process stops the job: nothing recorded, no next step submitted", async () => {
    await h.createJob();
    await h.advanceWhenDue(); // the advice task is created
    const other = h.newProcess();
    const check = providers.advice.check.bind(providers.advice);
    providers.advice.check = async (taskId, ctx) => {
      await stopJob(other, JOB_ID, CANCELLED); // lands between the read and the commit
      return check(taskId, ctx);
    };
    await h.advanceWhenDue({ ignoreSchedule: true });
    const job = await h.read();
    expect(job).toMatchObject({ status: "failed", errorCode: "cancelled", stepIndex: 0 });
    expect(job.artifacts.advice).toBeUndefined();
    for (let i = 0; i < 20; i++) await h.advanceWhenDue({ ignoreSchedule: true }, other);
    expect(allOf(providers).map((p) => p.submits.length)).toEqual([1, 0, 0, 0]);
  });

  it("deletes the vendor's copy of the task it cancels (OpenAI keeps a stored response until deleted)", async () => {
    await h.createJob();
    const forgotten: string[] = [];
    providers.advice.withCancel().onCheck({ state: "running" });
    providers.advice.forget = async (taskId) => {
      forgotten.push(taskId);
    };
    await h.advanceWhenDue();
    await stopJob(h.deps, JOB_ID, CANCELLED);
    expect(providers.advice.cancels).toEqual(["advice-task-1"]);
    expect(forgotten).toEqual(["advice-task-1"]);
  });

  it("deletes an output saved while the job was being stopped: no file outlives its record", async () => {
    await h.createJob({ stepIndex: 1, status: "processing-style", artifacts: { advice: SAMPLE_ADVICE } });
    const put = h.blobs.put.bind(h.blobs);
    const saved: string[] = [];
    h.blobs.put = async (key, bytes, contentType) => {
      const ref = await put(key, bytes, contentType);
      saved.push(ref.key);
      if (key.includes("/style-")) await stopJob(h.deps, JOB_ID, CANCELLED);
      return ref;
    };
    await h.advanceWhenDue(); // submits the style task
    await h.advanceWhenDue(); // finds it done, saves the image, loses the commit to the stop
    const styleKey = saved.find((key) => key.includes("/style-")) ?? "";
    expect(styleKey).not.toBe("");
    expect(await h.blobs.get({ key: styleKey, url: "" })).toBeNull();
    expect((await h.read()).errorCode).toBe("cancelled");
  });
});
