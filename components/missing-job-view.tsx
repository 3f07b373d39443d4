import { BUTTON } from "@/components/button-styles";
import { SearchIcon } from "@/components/icons";
import { ViewHeading } from "@/components/view-heading";

interface MissingJobViewProps {
  focusHeading: boolean;
  onStartOver(): void;
}

/** A link to a look that is unknown, expired or malformed. */
export function MissingJobView({ focusHeading, onStartOver }: MissingJobViewProps) {
  return (
    <section data-testid="missing-job-view" className="mx-auto max-w-xl">
      <span className="flex size-11 items-center justify-center rounded-full bg-stone-100 text-stone-600 ring-1 ring-stone-200">
        <SearchIcon className="size-5" />
      </span>
      <ViewHeading focus={focusHeading} className="mt-5">
        We can’t find that look
      </ViewHeading>
      <p className="mt-4 text-base leading-relaxed text-stone-600">
        This look doesn’t exist or has expired. Looks are kept for a limited time, and a copied link may be
        incomplete.
      </p>
      <div className="mt-8">
        <button type="button" onClick={onStartOver} className={BUTTON.primary}>
          Start a new look
        </button>
      </div>
    </section>
  );
}
