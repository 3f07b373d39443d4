/** The client's address for rate limiting: the first hop Vercel's proxy (or any proxy) recorded. */
export function clientKeyOf(request: Request): string {
  const forwarded = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  return forwarded || request.headers.get("x-real-ip") || "local";
}

/** Resolves with `work`, or with `fallback()` when `work` takes longer than `budgetMs`. */
export async function withinBudget<T>(
  work: Promise<T>,
  budgetMs: number,
  fallback: () => Promise<T>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), budgetMs);
  });
  try {
    const first = await Promise.race([work, late]);
    return first === "late" ? await fallback() : first;
  } finally {
    clearTimeout(timer);
  }
}
