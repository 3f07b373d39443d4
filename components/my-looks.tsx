"use client";

import type { MouseEvent } from "react";
import { PhotoIcon, Spinner } from "@/components/icons";
import { describeAge, statusLabelOf } from "@/components/look-summary";
import type { MyLooks as MyLooksState } from "@/hooks/use-my-looks";
import { useNow } from "@/hooks/use-now";
import type { PublicJob } from "@/lib/public-job";

interface MyLooksProps {
  myLooks: MyLooksState;
  /** The look the page shows now, marked as current in the list. */
  currentJobId: string | null;
  /** Say so when there are none (on the form); elsewhere an empty list shows nothing. */
  showEmpty: boolean;
  onOpen(jobId: string): void;
}

const lookHref = (jobId: string) => `/?job=${encodeURIComponent(jobId)}`;

function Thumbnail({ job }: { job: PublicJob }) {
  if (job.status === "completed" && job.imageUrl) {
    // biome-ignore lint/performance/noImgElement: our own stored image; next/image adds nothing here.
    return <img src={job.imageUrl} alt="" loading="lazy" className="h-full w-full object-cover" />;
  }
  const running = job.status !== "failed";
  return (
    <span className="flex h-full w-full items-center justify-center bg-stone-100 text-stone-400">
      {running ? <Spinner className="size-5" /> : <PhotoIcon className="size-6" />}
    </span>
  );
}

function LookCard({
  job,
  current,
  now,
  onOpen,
}: {
  job: PublicJob;
  current: boolean;
  now: number;
  onOpen(): void;
}) {
  const age = now - Date.parse(job.createdAt);
  const status = statusLabelOf(job);
  const running = job.status !== "completed" && job.status !== "failed";
  // A plain click opens the look in place; a modified one (new tab, new window) is the browser's.
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    onOpen();
  };
  return (
    <li>
      <a
        href={lookHref(job.jobId)}
        onClick={onClick}
        aria-current={current ? "page" : undefined}
        data-testid="my-look"
        data-status={job.status}
        className={`group block rounded-2xl p-1.5 transition-colors hover:bg-stone-100 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-stone-900 ${
          current ? "bg-stone-100 ring-1 ring-stone-300" : ""
        }`}
      >
        <span className="block aspect-[3/4] overflow-hidden rounded-xl ring-1 ring-stone-200">
          <Thumbnail job={job} />
        </span>
        {/* The link's name is its text (what a screen reader says is what is seen): "Date night, Step 2 of 4 · 3 min ago". */}
        <span className="mt-2 block truncate px-0.5 text-sm font-medium text-stone-900">{job.occasion}</span>
        <span className="block px-0.5 text-xs text-stone-600">
          <span className="sr-only">, </span>
          {status} · <time dateTime={job.createdAt}>{describeAge(age)}</time>
        </span>
        {running && (
          <span
            aria-hidden="true"
            className="mx-0.5 mt-1.5 block h-1 overflow-hidden rounded-full bg-stone-200"
          >
            <span
              className="block h-full rounded-full bg-orange-800 transition-[width] duration-700 motion-reduce:transition-none"
              style={{ width: `${Math.max(4, job.progress * 100)}%` }}
            />
          </span>
        )}
      </a>
    </li>
  );
}

/** The looks this browser made: each opens its own `?job=` link; one in progress shows how far it is. */
export function MyLooks({ myLooks, currentJobId, showEmpty, onOpen }: MyLooksProps) {
  const now = useNow(30_000);
  const looks = myLooks.looks;
  if (!looks || (looks.length === 0 && !showEmpty)) return null;
  return (
    <section
      data-testid="my-looks"
      aria-labelledby="my-looks-heading"
      className="mt-16 border-t border-stone-200 pt-8"
    >
      <h2 id="my-looks-heading" className="font-serif text-xl font-medium tracking-tight text-stone-900">
        Your looks
        {looks.length > 0 && <span className="ml-2 text-sm font-normal text-stone-500">{looks.length}</span>}
      </h2>
      {looks.length === 0 ? (
        <p data-testid="my-looks-empty" className="mt-2 text-sm leading-relaxed text-stone-500">
          Looks you make in this browser appear here, so you can come back to them.
        </p>
      ) : (
        <ul className="mt-4 grid grid-cols-2 gap-2 sm:grid-cols-4 lg:grid-cols-5">
          {looks.map((job) => (
            <LookCard
              key={job.jobId}
              job={job}
              current={job.jobId === currentJobId}
              now={now}
              onOpen={() => onOpen(job.jobId)}
            />
          ))}
        </ul>
      )}
    </section>
  );
}
