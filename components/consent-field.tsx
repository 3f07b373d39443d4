"use client";

import { CONSENT_FIELD, CONSENT_STATEMENT } from "@/lib/consent";

interface ConsentFieldProps {
  checked: boolean;
  onChange(checked: boolean): void;
  disabled: boolean;
}

/** The consent statement beside the start button: a checkbox the person ticks, and the privacy page. */
export function ConsentField({ checked, onChange, disabled }: ConsentFieldProps) {
  return (
    <div className="flex items-start gap-3 text-sm leading-relaxed text-stone-600">
      <input
        id="consent"
        name={CONSENT_FIELD}
        type="checkbox"
        data-testid="consent"
        checked={checked}
        disabled={disabled}
        onChange={(event) => onChange(event.target.checked)}
        className="mt-1 size-4 shrink-0 accent-stone-900 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-stone-900"
      />
      <div>
        <label htmlFor="consent">{CONSENT_STATEMENT}</label>{" "}
        <a
          href="/privacy"
          className="font-medium text-stone-900 underline underline-offset-2 focus-visible:outline-2 focus-visible:outline-stone-900"
        >
          How your photos are handled
        </a>
      </div>
    </div>
  );
}
