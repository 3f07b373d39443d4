"use client";

import { useId } from "react";
import { MAX_OCCASION_CHARS } from "@/lib/start-rules";

export const OCCASION_SUGGESTIONS = [
  "Wedding guest",
  "Job interview",
  "Date night",
  "Weekend casual",
] as const;

interface OccasionFieldProps {
  value: string;
  onChange(value: string): void;
  disabled?: boolean;
}

/** The occasion text field with one-click suggestions. */
export function OccasionField({ value, onChange, disabled = false }: OccasionFieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  return (
    <div>
      <label htmlFor={id} className="text-sm font-medium text-stone-900">
        Occasion
      </label>
      <p id={hintId} className="mt-0.5 text-xs text-stone-500">
        Where will you wear it? Pick one or describe your own.
      </p>
      <input
        id={id}
        name="occasion"
        type="text"
        value={value}
        maxLength={MAX_OCCASION_CHARS}
        autoComplete="off"
        disabled={disabled}
        placeholder="e.g. Summer wedding in the countryside"
        aria-describedby={hintId}
        onChange={(event) => onChange(event.currentTarget.value)}
        className="mt-2.5 block w-full rounded-xl border-0 bg-white px-4 py-3 text-base text-stone-900 ring-1 ring-stone-300 ring-inset placeholder:text-stone-400 focus:ring-2 focus:ring-stone-900 focus:outline-none"
      />
      <fieldset className="mt-3">
        <legend className="sr-only">Suggestions</legend>
        <div className="flex flex-wrap gap-2">
          {OCCASION_SUGGESTIONS.map((suggestion) => {
            const chosen = value.trim() === suggestion;
            return (
              <button
                key={suggestion}
                type="button"
                aria-pressed={chosen}
                disabled={disabled}
                onClick={() => onChange(suggestion)}
                className={`min-h-9 rounded-full px-3.5 text-sm transition-colors focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-stone-900 ${
                  chosen
                    ? "bg-stone-900 text-white"
                    : "bg-stone-100 text-stone-700 hover:bg-stone-200 hover:text-stone-900"
                }`}
              >
                {suggestion}
              </button>
            );
          })}
        </div>
      </fieldset>
    </div>
  );
}
