/**
 * Runs one @vercel/blob call under a deadline. The SDK retries failures with backoff (10 times by
 * default, minutes in all); the abort stops it and the race answers at the deadline even mid-backoff.
 */
export async function withDeadline<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // A plain abort() (an AbortError) makes the SDK give up; a TimeoutError reason would be retried.
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`Vercel Blob did not answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
