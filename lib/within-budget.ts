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
