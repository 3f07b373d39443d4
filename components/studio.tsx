"use client";

import { useEffect, useRef, useState } from "react";
import { DeleteAllLooks, DeleteLook } from "@/components/delete-look";
import { FailureView } from "@/components/failure-view";
import { FormView } from "@/components/form-view";
import { MissingJobView } from "@/components/missing-job-view";
import { MyLooks } from "@/components/my-looks";
import { ProgressView } from "@/components/progress-view";
import { ResultView } from "@/components/result-view";
import { type DirectUploads, preloadDirectUploads, startLook } from "@/components/start-look";
import { announcementOf, studioViewOf } from "@/components/studio-view";
import { useImageFile } from "@/hooks/use-image-file";
import type { JobPolling } from "@/hooks/use-job-polling";
import { useJobUpdates } from "@/hooks/use-job-updates";
import { useMyLooks } from "@/hooks/use-my-looks";
import type { PublicJob } from "@/lib/public-job";

/** Puts the job id in the address, so a reload or a shared link comes back to the same look. */
function showJobInUrl(jobId: string | null): void {
  window.history.replaceState(null, "", jobId ? `/?job=${encodeURIComponent(jobId)}` : "/");
}

interface StudioProps {
  initialJobId: string | null;
  /**
   * The server stores images in Vercel Blob (a public or a private store): photos go there straight
   * from the browser, with that access. Null: they go in the start form.
   */
  directUploads: DirectUploads;
}

/** The privacy controls under every view: delete the look shown (when it is ours), or all of them. */
function PrivacyActions(props: {
  jobId: string | null;
  notice: string | null;
  onDeleted(notice: string): void;
}) {
  return (
    <aside
      aria-label="Your data"
      className="mx-auto mt-10 flex max-w-3xl flex-col gap-3 border-t border-stone-200 pt-6"
    >
      {props.notice && (
        <p role="status" data-testid="deleted-notice" className="text-sm text-stone-700">
          {props.notice}
        </p>
      )}
      <div className="flex flex-wrap items-start gap-3">
        {props.jobId && (
          <DeleteLook jobId={props.jobId} onDeleted={() => props.onDeleted("The look was deleted.")} />
        )}
        <DeleteAllLooks onDeleted={() => props.onDeleted("All your looks and photos were deleted.")} />
        <a
          href="/privacy"
          className="inline-flex min-h-9 items-center px-2.5 text-sm text-stone-700 underline underline-offset-2"
        >
          Privacy
        </a>
      </div>
    </aside>
  );
}

/** The studio page: the form, then the job's progress, result, failure or absence. */
export function Studio({ initialJobId, directUploads }: StudioProps) {
  const person = useImageFile();
  const garment = useImageFile();
  const [occasion, setOccasion] = useState("");
  const [consented, setConsented] = useState(false);
  const [jobId, setJobId] = useState(initialJobId);
  const [uploadFraction, setUploadFraction] = useState<number | null>(null);
  const [startError, setStartError] = useState<string | null>(null);
  const [deletedNotice, setDeletedNotice] = useState<string | null>(null);
  const uploadAbort = useRef<AbortController | null>(null);
  const updates = useJobUpdates(jobId);
  // An owner's action answers with the job's new view (a cancel): shown at once, until updates catch up.
  const [answered, setAnswered] = useState<PublicJob | null>(null);
  const polling: JobPolling =
    answered && answered.jobId === jobId && updates.job?.status !== answered.status
      ? { ...updates, job: answered }
      : updates;
  const view = studioViewOf(jobId, polling);
  const myLooks = useMyLooks(`${jobId}:${polling.job?.status ?? ""}`);

  // Focus follows the view once it changes; the view a page opens on leaves focus where the browser put it.
  const [lastView, setLastView] = useState(view);
  const [viewChanged, setViewChanged] = useState(false);
  if (view !== lastView) {
    setLastView(view);
    setViewChanged(true);
  }

  useEffect(() => () => uploadAbort.current?.abort(), []);
  useEffect(() => {
    if (directUploads) preloadDirectUploads();
  }, [directUploads]);

  const openJob = (id: string | null) => {
    setJobId(id);
    showJobInUrl(id);
  };

  const start = async () => {
    if (!person.photo || !garment.photo) return;
    const controller = new AbortController();
    uploadAbort.current = controller;
    setStartError(null);
    setDeletedNotice(null);
    setUploadFraction(0);
    const outcome = await startLook(
      {
        person: person.photo.blob,
        garment: garment.photo.blob,
        occasion: occasion.trim(),
        onProgress: setUploadFraction,
        signal: controller.signal,
      },
      directUploads,
    );
    if (controller.signal.aborted) return;
    setUploadFraction(null);
    if (outcome.ok) openJob(outcome.jobId);
    else setStartError(outcome.message);
  };

  const startOver = () => {
    person.clear();
    garment.clear();
    setOccasion("");
    setStartError(null);
    openJob(null);
  };

  const tryAgain = () => {
    if (polling.job) setOccasion(polling.job.occasion);
    setStartError(null);
    openJob(null);
  };

  return (
    <>
      <div aria-live="polite" aria-atomic="true" className="sr-only" data-testid="announcer">
        {announcementOf(view, polling, uploadFraction !== null)}
      </div>
      {view === "form" && (
        <FormView
          person={person}
          garment={garment}
          occasion={occasion}
          onOccasionChange={setOccasion}
          consented={consented}
          onConsentChange={setConsented}
          uploadFraction={uploadFraction}
          startError={startError}
          focusHeading={viewChanged}
          onSubmit={start}
        />
      )}
      {view === "progress" && (
        <ProgressView
          job={polling.job}
          reconnecting={polling.reconnecting}
          clockOffsetMs={polling.clockOffsetMs}
          thumbnails={{ person: person.previewUrl, garment: garment.previewUrl }}
          focusHeading={viewChanged}
          onCancelled={setAnswered}
        />
      )}
      {view === "result" && polling.job?.imageUrl && (
        <ResultView
          job={{ ...polling.job, imageUrl: polling.job.imageUrl }}
          focusHeading={viewChanged}
          onTryAnother={startOver}
          onOpenJob={openJob}
        />
      )}
      {view === "failure" && polling.job && (
        <FailureView
          job={polling.job}
          keepsPhotos={Boolean(person.photo && garment.photo)}
          focusHeading={viewChanged}
          onTryAgain={tryAgain}
          onStartOver={startOver}
          onOpenJob={openJob}
        />
      )}
      {view === "missing" && <MissingJobView focusHeading={viewChanged} onStartOver={startOver} />}
      <MyLooks myLooks={myLooks} currentJobId={jobId} showEmpty={view === "form"} onOpen={openJob} />
      <PrivacyActions
        jobId={(view === "result" || view === "failure") && polling.job?.owned ? polling.job.jobId : null}
        notice={deletedNotice}
        onDeleted={(notice) => {
          startOver();
          setDeletedNotice(notice);
        }}
      />
    </>
  );
}
