"use client";

import { DeleteAction } from "@/components/delete-action";

/** "Delete this look" on the result and failure views of a look this browser made. */
export function DeleteLook({ jobId, onDeleted }: { jobId: string; onDeleted(): void }) {
  return (
    <DeleteAction
      label="Delete this look"
      question="Delete this look?"
      consequence="Your photo, the garment photo, every image made from them and the advice are deleted from Style Studio now, and the copies the AI services keep are deleted where they let us. This cannot be undone."
      path={`/api/generation/jobs/${encodeURIComponent(jobId)}`}
      testId="delete-look"
      onDeleted={onDeleted}
    />
  );
}

/** "Delete all my looks and photos": everything this browser made, at once. */
export function DeleteAllLooks({ onDeleted }: { onDeleted(): void }) {
  return (
    <DeleteAction
      label="Delete all my looks and photos"
      question="Delete all your looks and photos?"
      consequence="Every look made in this browser — your photos, the garment photos, the images and the advice — is deleted from Style Studio now. This cannot be undone."
      path="/api/generation/jobs"
      testId="delete-all"
      onDeleted={onDeleted}
    />
  );
}
