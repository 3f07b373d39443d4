import { CheckIcon } from "@/components/icons";
import { STEPS } from "@/lib/step-catalogue";

interface ProgressStepperProps {
  /** Index of the running step; STEPS.length when all are done. */
  current: number;
}

/** The four steps, each done, running or to come. */
export function ProgressStepper({ current }: ProgressStepperProps) {
  return (
    <ol className="space-y-1" data-testid="stepper">
      {STEPS.map((step, index) => {
        const state = index < current ? "done" : index === current ? "current" : "upcoming";
        return (
          <li
            key={step.status}
            aria-current={state === "current" ? "step" : undefined}
            data-state={state}
            className={`flex items-center gap-3 rounded-xl px-3 py-2.5 text-sm transition-colors ${
              state === "current" ? "bg-stone-100 font-medium text-stone-900" : ""
            } ${state === "done" ? "text-stone-700" : ""} ${state === "upcoming" ? "text-stone-500" : ""}`}
          >
            <span
              aria-hidden="true"
              className={`flex size-6 shrink-0 items-center justify-center rounded-full text-xs ${
                state === "done"
                  ? "bg-stone-900 text-white"
                  : state === "current"
                    ? "bg-white text-stone-900 ring-2 ring-stone-900"
                    : "ring-1 ring-stone-300"
              }`}
            >
              {state === "done" ? (
                <CheckIcon className="size-3.5" strokeWidth={2.5} />
              ) : state === "current" ? (
                <span className="size-2 animate-pulse rounded-full motion-reduce:animate-none bg-orange-800" />
              ) : (
                index + 1
              )}
            </span>
            <span>{step.progressLabel}</span>
            <span className="sr-only">
              {state === "done" ? " (done)" : state === "current" ? " (in progress)" : ""}
            </span>
          </li>
        );
      })}
    </ol>
  );
}
