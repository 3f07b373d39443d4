import type { AdvanceDeps } from "@/lib/jobs/advance";
import type { JobPlan, StoredJob } from "@/lib/jobs/job";
import type { Step } from "@/lib/jobs/pipeline";
import { stepTimesOf } from "@/lib/jobs/step-timing";
import type { TaskExpectation } from "@/lib/jobs/transitions";

/**
 * What a create about to be sent expects, and the job's plan after it. The job's first create makes
 * the plan (every step's expectation; its weights never change afterwards, so progress never moves
 * backwards); each later create refreshes its own step's expectation in it. A job that starts
 * further on (a redo, or a record from before learning) gets its plan at its current step's first
 * create, the steps behind it weighted so that they are exactly the share they showed before
 * (step-counted, `stepIndex / steps`): its progress carries on from there, never back.
 */
export async function expectationFor(
  deps: Pick<AdvanceDeps, "store" | "providers">,
  pipeline: readonly Step[],
  job: StoredJob,
  step: Step,
): Promise<TaskExpectation> {
  const times = stepTimesOf(deps.store);
  const expect = (of: Step) => {
    const provider = of.provider(deps.providers);
    return times.expect(provider.series, provider.typicalMs);
  };
  const current = await expect(step);
  let plan: JobPlan | null = job.plan;
  if (plan === null && job.current?.firstSentAt == null) {
    const ahead = pipeline.slice(job.stepIndex);
    const all = await Promise.all(ahead.map((each) => (each === step ? current : expect(each))));
    const expectedAhead = all.map((each) => Math.max(1, each.expectedMs));
    const behind = job.stepIndex;
    const remaining = expectedAhead.reduce((sum, ms) => sum + ms, 0);
    // behind / steps of the whole: B / (B + remaining) = behind / steps.
    const eachBehind = behind === 0 ? 0 : remaining / (pipeline.length - behind);
    const weightsMs = [...Array.from({ length: behind }, () => eachBehind), ...expectedAhead];
    plan = { weightsMs, expectedMs: weightsMs };
  } else if (plan !== null) {
    const expectedMs = plan.expectedMs.map((ms, i) =>
      i === job.stepIndex ? Math.max(1, current.expectedMs) : ms,
    );
    plan = { ...plan, expectedMs };
  }
  return { ...current, plan };
}
