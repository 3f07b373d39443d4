/**
 * A cap on vendor-output downloads in flight in one process: each may hold up to the byte cap while
 * it streams, so without one, N hostile answers at once would cost N times that.
 */
export function createDownloadSlots(max: number) {
  let active = 0;
  const waiting: Array<() => void> = [];

  /** Waits for a free slot (or the signal) and returns its release, which is safe to call twice. */
  return async function takeSlot(signal: AbortSignal): Promise<() => void> {
    while (active >= max) {
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          waiting.splice(waiting.indexOf(wake), 1);
          reject(signal.reason);
        };
        waiting.push(wake);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
    active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      active--;
      waiting.shift()?.();
    };
  };
}
