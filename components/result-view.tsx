"use client";

import { useState } from "react";
import { BUTTON } from "@/components/button-styles";
import { CompareSlider } from "@/components/compare-slider";
import { CopyLink } from "@/components/copy-link";
import { DownloadIcon } from "@/components/icons";
import { describeDuration } from "@/components/job-steps";
import { RedoActions } from "@/components/redo-actions";
import { ViewHeading } from "@/components/view-heading";
import type { PublicJob } from "@/lib/public-job";

interface ResultViewProps {
  job: PublicJob & { imageUrl: string };
  focusHeading: boolean;
  onTryAnother(): void;
  /** Opens another look in the page (a redo's new look). */
  onOpenJob(jobId: string): void;
}

/**
 * A link that saves the image. `download` is ignored for other origins, so a Vercel Blob URL gets its
 * `?download=1` form, which the service answers as an attachment; our own /api/files URLs are relative.
 */
function downloadUrlOf(imageUrl: string): string {
  if (!/^https?:\/\//i.test(imageUrl)) return imageUrl;
  const url = new URL(imageUrl);
  url.searchParams.set("download", "1");
  return url.href;
}

/**
 * The finished look: the image, large, to download, compare with the person's photo and share; the
 * advice and its pieces; the occasion; for its owner, redo from the try-on or the styling.
 */
export function ResultView({ job, focusHeading, onTryAnother, onOpenJob }: ResultViewProps) {
  const [comparing, setComparing] = useState(false);
  const beforeUrl = job.personImageUrl;
  const tookMs = Date.parse(job.updatedAt) - Date.parse(job.createdAt);
  return (
    <section
      data-testid="result-view"
      className="grid items-start gap-x-12 gap-y-8 md:grid-cols-2 md:grid-rows-[auto_1fr]"
    >
      <header className="md:col-start-2 md:pt-4">
        <p className="text-sm text-stone-500">
          For <span className="font-medium text-stone-700">“{job.occasion}”</span>
          {Number.isFinite(tookMs) && tookMs > 0 && <> · ready in {describeDuration(tookMs)}</>}
        </p>
        <ViewHeading focus={focusHeading} className="mt-2">
          Your look is ready
        </ViewHeading>
      </header>

      <figure className="md:col-start-1 md:row-span-2 md:row-start-1">
        {comparing && beforeUrl ? (
          <CompareSlider beforeUrl={beforeUrl} afterUrl={job.imageUrl} occasion={job.occasion} autoFocus />
        ) : (
          <>
            {/* biome-ignore lint/performance/noImgElement: our own stored image, already sized; next/image adds nothing here. */}
            <img
              src={job.imageUrl}
              alt={`You wearing the garment, styled for ${job.occasion}`}
              data-testid="result-image"
              className="aspect-[3/4] w-full rounded-3xl bg-stone-200 object-cover shadow-sm ring-1 ring-stone-200/80"
            />
          </>
        )}
        {job.advice?.source === "offline" && (
          <figcaption className="mt-3 text-xs text-stone-500">
            Offline preview: a rough sketch made without the AI studio.
          </figcaption>
        )}
      </figure>

      <div className="md:col-start-2">
        {job.advice && (
          <div className="space-y-6">
            <p data-testid="advice-summary" className="text-base leading-relaxed text-stone-700">
              {job.advice.summary}
            </p>
            {job.advice.pieces.length > 0 && (
              <div>
                <h2 className="text-xs font-medium tracking-[0.16em] text-stone-500 uppercase">
                  Pieces to wear
                </h2>
                <ul
                  data-testid="advice-pieces"
                  className="mt-3 divide-y divide-stone-200 border-y border-stone-200"
                >
                  {job.advice.pieces.map((piece) => (
                    <li key={piece} className="flex gap-3 py-3 text-sm leading-relaxed text-stone-700">
                      <span
                        aria-hidden="true"
                        className="mt-2 size-1.5 shrink-0 rounded-full bg-orange-800"
                      />
                      {piece}
                    </li>
                  ))}
                </ul>
              </div>
            )}
          </div>
        )}

        <div className="mt-8 grid grid-cols-2 gap-3">
          <a
            href={downloadUrlOf(job.imageUrl)}
            download="style-studio-look.jpg"
            className={`${BUTTON.primary} col-span-2`}
          >
            <DownloadIcon className="size-4" />
            Download image
          </a>
          {beforeUrl && (
            <button
              type="button"
              aria-pressed={comparing}
              onClick={() => setComparing((on) => !on)}
              className={BUTTON.secondary}
            >
              Compare<span className="sr-only"> with your photo</span>
            </button>
          )}
          <CopyLink jobId={job.jobId} wide={!beforeUrl} />
        </div>
        <RedoActions job={job} onOpenJob={onOpenJob} className="mt-8" />
        <div className="mt-8 border-t border-stone-200 pt-6">
          <button type="button" onClick={onTryAnother} className={BUTTON.secondary}>
            Try another look
          </button>
        </div>
      </div>
    </section>
  );
}
