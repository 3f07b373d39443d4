import type { AdvanceDeps } from "@/lib/jobs/advance";
import type { JobPlan, StoredJob } from "@/lib/jobs/job";
import type { Step } from "@/lib/jobs/pipeline";
import { stepTimesOf } from "@/lib/jobs/step-timing";
import type { TaskExpectation } from "@/lib/jobs/transitions";

/**
 * What a create about to be sent expects, and the job's plan after it. The job's first create makes
 * the plan (every step's expectation; its weights never change afterwards, so progress never moves
 * backwards); each later create refreshes its own step's expectation in it. A job that had already
 * moved on when learning arrived gets no plan (its progress stays step-counted).
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
  if (plan === null && job.stepIndex === 0) {
    const all = await Promise.all(pipeline.map((each) => (each === step ? current : expect(each))));
    const expectedMs = all.map((each) => Math.max(1, each.expectedMs));
    plan = { weightsMs: expectedMs, expectedMs };
  } else if (plan !== null) {
    const expectedMs = plan.expectedMs.map((ms, i) =>
      i === job.stepIndex ? Math.max(1, current.expectedMs) : ms,
    );
    plan = { ...plan, expectedMs };
  }
  return { ...current, plan };
}
