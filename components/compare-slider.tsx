"use client";

import { type PointerEvent, useEffect, useId, useRef, useState } from "react";

interface CompareSliderProps {
  /** The person's own photo, on the left of the divider. */
  beforeUrl: string;
  /** The finished look, on the right. */
  afterUrl: string;
  occasion: string;
  /** Take the focus on mount (it was just opened by a button), so the arrow keys work at once. */
  autoFocus?: boolean;
}

const STEP_PERCENT = 1;

/**
 * A before/after compare: the person's photo and the look, one over the other, split by a divider.
 * The divider is a native range input (arrow keys, Page Up/Down, Home, End; a screen reader names it),
 * visually hidden; a pointer or a finger drags it anywhere on the picture (vertical swipes still scroll).
 */
export function CompareSlider({ beforeUrl, afterUrl, occasion, autoFocus = false }: CompareSliderProps) {
  const id = useId();
  const [percent, setPercent] = useState(50);
  const frame = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const dragging = useRef(false);

  useEffect(() => {
    if (autoFocus) input.current?.focus();
  }, [autoFocus]);

  const moveTo = (clientX: number) => {
    const box = frame.current?.getBoundingClientRect();
    if (!box || box.width === 0) return;
    setPercent(Math.round(Math.min(100, Math.max(0, ((clientX - box.left) / box.width) * 100))));
  };
  const onPointerDown = (event: PointerEvent<HTMLDivElement>) => {
    if (event.button !== 0) return;
    dragging.current = true;
    event.currentTarget.setPointerCapture(event.pointerId);
    input.current?.focus({ preventScroll: true });
    moveTo(event.clientX);
  };
  const onPointerMove = (event: PointerEvent<HTMLDivElement>) => {
    if (dragging.current) moveTo(event.clientX);
  };
  const stopDragging = () => {
    dragging.current = false;
  };

  return (
    <div data-testid="compare-slider">
      <div
        ref={frame}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={stopDragging}
        onPointerCancel={stopDragging}
        className="relative aspect-[3/4] w-full cursor-ew-resize touch-pan-y overflow-hidden rounded-3xl bg-stone-200 shadow-sm ring-1 ring-stone-200/80 select-none has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-4 has-[:focus-visible]:outline-stone-900"
      >
        {/* biome-ignore lint/performance/noImgElement: our own stored image, already sized. */}
        <img
          src={afterUrl}
          alt={`You wearing the garment, styled for ${occasion}`}
          draggable={false}
          className="absolute inset-0 h-full w-full object-cover"
        />
        {/* biome-ignore lint/performance/noImgElement: our own stored image, already sized. */}
        <img
          src={beforeUrl}
          alt="Your photo, before"
          draggable={false}
          data-testid="compare-before"
          style={{ clipPath: `inset(0 ${100 - percent}% 0 0)` }}
          className="absolute inset-0 h-full w-full object-cover"
        />
        <span
          aria-hidden="true"
          data-testid="compare-divider"
          style={{ left: `${percent}%` }}
          className="absolute inset-y-0 -ml-px w-0.5 bg-white shadow-[0_0_0_1px_rgba(0,0,0,0.15)]"
        >
          <span className="absolute top-1/2 left-1/2 flex size-9 -translate-x-1/2 -translate-y-1/2 items-center justify-center rounded-full bg-white text-xs text-stone-700 shadow-md">
            ⟷
          </span>
        </span>
        <span
          aria-hidden="true"
          className="absolute top-3 left-3 rounded-full bg-white/85 px-2.5 py-1 text-xs font-medium text-stone-800"
        >
          Before
        </span>
        <span
          aria-hidden="true"
          className="absolute top-3 right-3 rounded-full bg-white/85 px-2.5 py-1 text-xs font-medium text-stone-800"
        >
          After
        </span>
        <label htmlFor={id} className="sr-only">
          Compare your photo with the look
        </label>
        <input
          ref={input}
          id={id}
          type="range"
          min={0}
          max={100}
          step={STEP_PERCENT}
          value={percent}
          onChange={(event) => setPercent(Number(event.currentTarget.value))}
          aria-valuetext={`${percent}% of your photo shown, ${100 - percent}% of the look`}
          data-testid="compare-range"
          className="sr-only"
        />
      </div>
    </div>
  );
}
