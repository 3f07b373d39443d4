const BASE =
  "inline-flex items-center justify-center gap-2 rounded-full text-sm font-medium transition-colors " +
  "focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-stone-900 disabled:cursor-not-allowed";

/** Class names shared by every button and button-like link, so the views look of a piece. */
export const BUTTON = {
  primary: `${BASE} min-h-11 px-6 bg-stone-900 text-white hover:bg-stone-700 disabled:bg-stone-300 disabled:text-stone-500`,
  secondary: `${BASE} min-h-11 px-6 bg-white text-stone-900 ring-1 ring-stone-300 ring-inset hover:bg-stone-50`,
  quiet: `${BASE} min-h-9 px-2.5 text-stone-700 hover:bg-stone-100 hover:text-stone-900 disabled:opacity-50`,
} as const;
