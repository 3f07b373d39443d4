"use client";

import { useEffect, useRef, useState } from "react";
import { BUTTON } from "@/components/button-styles";

/** The view-only link of a look: anyone may open it; only its owner's browser gets the owner's actions. */
export function shareUrlOf(origin: string, jobId: string): string {
  return new URL(`/?job=${encodeURIComponent(jobId)}`, origin).href;
}

/** Copies text with the Clipboard API, else with a selected textarea and execCommand (plain http, old browsers). */
async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    } finally {
      area.remove();
    }
  }
}

type CopyState = "idle" | "copied" | "failed";

interface CopyLinkProps {
  jobId: string;
  /** Span both columns of the actions grid it sits in (else one; its messages always span both). */
  wide?: boolean;
}

/**
 * "Copy link": the look's view-only link to the clipboard, with a visible confirmation (or the link to
 * copy by hand). A fragment, so its button and messages take their own cells of the actions grid.
 */
export function CopyLink({ jobId, wide = false }: CopyLinkProps) {
  const [state, setState] = useState<CopyState>("idle");
  const [url, setUrl] = useState("");
  const manual = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (state !== "copied") return;
    const timer = setTimeout(() => setState("idle"), 4_000);
    return () => clearTimeout(timer);
  }, [state]);
  useEffect(() => {
    if (state === "failed") manual.current?.select();
  }, [state]);

  const copy = async () => {
    const link = shareUrlOf(window.location.origin, jobId);
    setUrl(link);
    setState((await copyText(link)) ? "copied" : "failed");
  };

  return (
    <>
      <button type="button" onClick={copy} className={`${BUTTON.secondary} ${wide ? "col-span-2" : ""}`}>
        Copy link
      </button>
      <p
        role="status"
        data-testid="copy-link-status"
        className="col-span-2 text-sm text-stone-600 empty:-mt-3"
      >
        {state === "copied" && "Link copied. Anyone with it can see this look, but not your photo."}
      </p>
      {state === "failed" && (
        <div className="col-span-2 min-w-0">
          <label htmlFor="copy-link-manual" className="text-sm text-stone-600">
            Copy this link:
          </label>
          <input
            ref={manual}
            id="copy-link-manual"
            readOnly
            value={url}
            className="mt-1 block w-full rounded-xl bg-stone-50 px-3 py-2 text-sm text-stone-800 ring-1 ring-stone-300 ring-inset"
          />
        </div>
      )}
    </>
  );
}
