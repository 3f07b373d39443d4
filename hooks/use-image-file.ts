"use client";

import { useCallback, useRef, useState } from "react";
import { downscaleImage, PhotoRejectedError, type PreparedPhoto } from "@/components/downscale-image";
import { useObjectUrl } from "@/hooks/use-object-url";

/** One photo slot of the form: the prepared photo, its preview, and why a file was refused. */
export interface ImageFile {
  photo: PreparedPhoto | null;
  previewUrl: string | null;
  error: string | null;
  preparing: boolean;
  /** Checks and downscales `file`; a refused file leaves the previous photo in place. */
  choose(file: File): void;
  clear(): void;
}

export function useImageFile(): ImageFile {
  const [photo, setPhoto] = useState<PreparedPhoto | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [preparing, setPreparing] = useState(false);
  // Only the latest choice may land: a slow decode must not overwrite a newer pick or a removal.
  const latest = useRef(0);
  const previewUrl = useObjectUrl(photo?.blob ?? null);

  const choose = useCallback((file: File) => {
    const attempt = ++latest.current;
    setPreparing(true);
    setError(null);
    downscaleImage(file)
      .then((prepared) => {
        if (attempt === latest.current) setPhoto(prepared);
      })
      .catch((reason: unknown) => {
        if (attempt !== latest.current) return;
        setError(
          reason instanceof PhotoRejectedError
            ? reason.message
            : "This photo could not be prepared. Please try another one.",
        );
      })
      .finally(() => {
        if (attempt === latest.current) setPreparing(false);
      });
  }, []);

  const clear = useCallback(() => {
    latest.current++;
    setPhoto(null);
    setError(null);
    setPreparing(false);
  }, []);

  return { photo, previewUrl, error, preparing, choose, clear };
}
