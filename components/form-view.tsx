"use client";

import type { FormEvent } from "react";
import { ConsentField } from "@/components/consent-field";
import { ImagePicker } from "@/components/image-picker";
import { OccasionField } from "@/components/occasion-field";
import { SubmitBar } from "@/components/submit-bar";
import { ViewHeading } from "@/components/view-heading";
import type { ImageFile } from "@/hooks/use-image-file";

interface FormViewProps {
  person: ImageFile;
  garment: ImageFile;
  occasion: string;
  onOccasionChange(value: string): void;
  /** The person ticked the consent statement (lib/consent.ts); the start is refused until then. */
  consented: boolean;
  onConsentChange(consented: boolean): void;
  uploadFraction: number | null;
  startError: string | null;
  focusHeading: boolean;
  onSubmit(): void;
}

function joinWithAnd(items: string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/** Why the form cannot be sent yet, as a sentence; null when it can. */
export function missingReason(person: ImageFile, garment: ImageFile, occasion: string): string | null {
  if (person.preparing || garment.preparing) return "Preparing your photos…";
  const missing = [
    !person.photo && "your photo",
    !garment.photo && "a garment photo",
    !occasion.trim() && "the occasion",
  ].filter((item): item is string => Boolean(item));
  return missing.length ? `Add ${joinWithAnd(missing)} to continue.` : null;
}

/** The studio form: two photos and an occasion in. */
export function FormView(props: FormViewProps) {
  const { person, garment, occasion, uploadFraction } = props;
  const reason =
    missingReason(person, garment, occasion) ??
    (props.consented ? null : "Tick the box above to confirm, then continue.");
  const uploading = uploadFraction !== null;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!reason && !uploading) props.onSubmit();
  };

  return (
    <section data-testid="form-view" aria-labelledby="form-heading" className="mx-auto max-w-3xl">
      <div className="max-w-2xl">
        <p className="text-xs font-medium tracking-[0.16em] text-orange-800 uppercase">
          Virtual fitting room
        </p>
        <ViewHeading id="form-heading" focus={props.focusHeading} className="mt-3">
          See it on you before you wear it
        </ViewHeading>
        <p className="mt-3 text-base leading-relaxed text-stone-600">
          Add a photo of yourself and a garment, name the occasion, and get styling advice with a picture of
          you wearing it.
        </p>
      </div>

      <form
        onSubmit={onSubmit}
        noValidate
        className="mt-8 space-y-8 rounded-3xl bg-white p-5 shadow-sm ring-1 ring-stone-200/80 sm:p-8"
      >
        <div className="grid grid-cols-2 gap-4 sm:gap-8">
          <ImagePicker
            name="human_image"
            label="Your photo"
            hint="Front-facing, head to hips, good light."
            subject="your photo"
            file={person}
            disabled={uploading}
            camera
          />
          <ImagePicker
            name="garment_image"
            label="Garment photo"
            hint="The piece on its own, on a plain background."
            subject="the garment photo"
            file={garment}
            disabled={uploading}
            fit="contain"
          />
        </div>
        <OccasionField value={occasion} onChange={props.onOccasionChange} disabled={uploading} />
        <ConsentField checked={props.consented} onChange={props.onConsentChange} disabled={uploading} />
        <SubmitBar reason={reason} uploadFraction={uploadFraction} error={props.startError} />
      </form>
    </section>
  );
}
