import { randomUUID } from "node:crypto";
import type { Advice, CheckResult } from "@/lib/providers/types";

/**
 * Advice requests run without background mode, for OpenAI-compatible servers that lack it.
 *
 * The pending result lives in this process's memory only: a restart (or a poll that lands on another
 * serverless instance) does not know the task id, and `check` then reports the task missing; once
 * the engine has checked again, the step pays for a new one. That is why it runs only when
 * OPENAI_PLAIN_FALLBACK is set (development, or one long-lived process); OpenAI itself never gets here.
 */

const PREFIX = "fallback-";
/** Long enough for any check to read a finished result; the advice step's deadline is 3 minutes. */
const KEEP_MS = 15 * 60_000;

interface FallbackTask {
  startedAt: number;
  result: CheckResult<Advice> | null;
}

const fallbackTasks = new Map<string, FallbackTask>();

export const isFallbackTaskId = (taskId: string): boolean => taskId.startsWith(PREFIX);

function forgetOldTasks(now: number): void {
  for (const [taskId, task] of fallbackTasks) {
    if (now - task.startedAt > KEEP_MS) fallbackTasks.delete(taskId);
  }
}

/**
 * Starts `work` through `runInBackground` and returns the task id `check` will look up.
 * `work` must not throw: it turns its own failures into a failed CheckResult.
 */
export function startFallbackTask(
  work: () => Promise<CheckResult<Advice>>,
  runInBackground: (work: () => Promise<void>) => void,
): string {
  const now = Date.now();
  forgetOldTasks(now);
  const taskId = `${PREFIX}${randomUUID()}`;
  const task: FallbackTask = { startedAt: now, result: null };
  fallbackTasks.set(taskId, task);
  runInBackground(async () => {
    task.result = await work();
  });
  return taskId;
}

/** The task's result, null while it runs, undefined when this process never started it. */
export function readFallbackTask(taskId: string): CheckResult<Advice> | null | undefined {
  const task = fallbackTasks.get(taskId);
  return task ? task.result : undefined;
}
