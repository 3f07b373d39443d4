"use client";

import { type ChangeEvent, type DragEvent, useId, useRef, useState } from "react";
import { BUTTON } from "@/components/button-styles";
import { CameraIcon, PhotoIcon, Spinner } from "@/components/icons";
import type { ImageFile } from "@/hooks/use-image-file";

interface ImagePickerProps {
  /** The form field's name, also its test id: human_image or garment_image. */
  name: string;
  label: string;
  hint: string;
  /** Completes "Replace …" and "Remove …" for screen readers: "your photo", "the garment photo". */
  subject: string;
  file: ImageFile;
  disabled?: boolean;
  /** How the preview fills its frame: people fill it, garments are shown whole. */
  fit?: "cover" | "contain";
  /** Offer "Take a photo" with the front camera (on touch screens), besides choosing a file. */
  camera?: boolean;
}

const ACCEPT = "image/jpeg,image/png,image/webp";

/** One photo slot: click or drop to choose, a preview, replace and remove, and why a file was refused. */
export function ImagePicker({
  name,
  label,
  hint,
  subject,
  file,
  disabled = false,
  fit = "cover",
  camera = false,
}: ImagePickerProps) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const cameraInput = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const ids = { label: `${id}-label`, hint: `${id}-hint`, error: `${id}-error` };

  const onDrop = (event: DragEvent<HTMLLabelElement>) => {
    event.preventDefault();
    setDragging(false);
    const dropped = event.dataTransfer.files[0];
    if (dropped && !disabled) file.choose(dropped);
  };
  const onDragOver = (event: DragEvent<HTMLLabelElement>) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = disabled ? "none" : "copy";
    if (!disabled) setDragging(true);
  };

  const onChosen = (event: ChangeEvent<HTMLInputElement>) => {
    const chosen = event.currentTarget.files?.[0];
    // Cleared so choosing the same file again still fires a change.
    event.currentTarget.value = "";
    if (chosen) file.choose(chosen);
  };

  const hasPhoto = Boolean(file.previewUrl && file.photo);
  const frameStyle = dragging
    ? "border-2 border-dashed border-stone-900 bg-stone-100"
    : hasPhoto
      ? `ring-1 ring-stone-200 ${fit === "cover" ? "bg-stone-100" : "bg-white"}`
      : `border-2 border-dashed bg-stone-50 hover:border-stone-400 ${file.error ? "border-red-300" : "border-stone-300"}`;

  return (
    <div data-testid={`picker-${name}`} className="min-w-0">
      <div className="mb-2.5">
        <p id={ids.label} className="text-sm font-medium text-stone-900">
          {label}
        </p>
        <p id={ids.hint} className="mt-0.5 text-xs leading-snug text-stone-500">
          {hint}
        </p>
      </div>
      <input
        ref={input}
        id={id}
        name={name}
        type="file"
        accept={ACCEPT}
        disabled={disabled}
        aria-labelledby={ids.label}
        aria-describedby={file.error ? `${ids.error} ${ids.hint}` : ids.hint}
        aria-invalid={file.error ? true : undefined}
        className="peer sr-only"
        onChange={onChosen}
      />
      {/* The frame is a second label of the input: a click opens the file dialog, a drop chooses the file. */}
      <label
        htmlFor={id}
        onDrop={onDrop}
        onDragOver={onDragOver}
        onDragLeave={() => setDragging(false)}
        className={`relative flex aspect-[3/4] w-full sm:aspect-[4/5] cursor-pointer overflow-hidden rounded-2xl transition peer-focus-visible:outline-2 peer-focus-visible:outline-offset-2 peer-focus-visible:outline-stone-900 ${
          disabled ? "cursor-not-allowed opacity-75" : ""
        } ${frameStyle}`}
      >
        {file.previewUrl && file.photo ? (
          // biome-ignore lint/performance/noImgElement: a local object URL; next/image cannot optimise it.
          <img
            src={file.previewUrl}
            alt={`Preview of ${subject}`}
            data-testid="picker-preview"
            className={`h-full w-full ${fit === "cover" ? "object-cover" : "object-contain p-3"}`}
          />
        ) : (
          <span className="flex w-full flex-col items-center justify-center gap-3 p-4 text-center">
            <span className="flex size-11 items-center justify-center rounded-full bg-white text-stone-600 shadow-sm ring-1 ring-stone-200">
              <PhotoIcon className="size-5" />
            </span>
            <span className="text-sm font-medium text-stone-900">Choose a photo</span>
            <span className="hidden text-xs text-stone-500 sm:block">or drag one here</span>
          </span>
        )}
        {file.preparing && (
          <span className="absolute inset-0 flex items-center justify-center gap-2 bg-white/80 text-xs font-medium text-stone-700">
            <Spinner className="size-3.5" /> Preparing…
          </span>
        )}
      </label>

      {camera && (
        <>
          {/* A second input: `capture` opens the camera straight away on a phone (desktops ignore it). */}
          <input
            ref={cameraInput}
            type="file"
            accept={ACCEPT}
            capture="user"
            disabled={disabled}
            aria-label={`Take ${subject} with the camera`}
            data-testid="camera-input"
            className="hidden"
            tabIndex={-1}
            onChange={onChosen}
          />
          {/* Shown only where there is a touch screen, which is where there is a camera to point. */}
          <div className="mt-1.5 -ml-2.5 hidden pointer-coarse:block">
            <button
              type="button"
              className={BUTTON.quiet}
              disabled={disabled}
              onClick={() => cameraInput.current?.click()}
            >
              <CameraIcon className="size-4" />
              Take a photo<span className="sr-only"> for {subject}</span>
            </button>
          </div>
        </>
      )}
      {file.photo && (
        <div className="mt-1.5 -ml-2.5 flex items-center gap-0.5">
          <button
            type="button"
            className={BUTTON.quiet}
            disabled={disabled}
            onClick={() => input.current?.click()}
          >
            Replace<span className="sr-only"> {subject}</span>
          </button>
          <button type="button" className={BUTTON.quiet} disabled={disabled} onClick={file.clear}>
            Remove<span className="sr-only"> {subject}</span>
          </button>
        </div>
      )}
      {file.error && (
        <p
          id={ids.error}
          role="alert"
          data-testid="picker-error"
          className="mt-2 text-sm leading-snug text-red-700"
        >
          {file.error}
        </p>
      )}
    </div>
  );
}
