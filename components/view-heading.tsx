"use client";

import { type ReactNode, useEffect, useRef } from "react";

interface ViewHeadingProps {
  children: ReactNode;
  /** Move focus here on mount: set when the view replaced another, so keyboard and screen-reader users follow. */
  focus: boolean;
  className?: string;
  id?: string;
}

/** The h1 of a studio view; it takes focus when the view changes. */
export function ViewHeading({ children, focus, className = "", id }: ViewHeadingProps) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focus) ref.current?.focus();
  }, [focus]);
  return (
    <h1
      ref={ref}
      id={id}
      tabIndex={-1}
      className={`font-serif text-3xl leading-tight font-medium tracking-tight text-stone-900 outline-none sm:text-4xl ${className}`}
    >
      {children}
    </h1>
  );
}
