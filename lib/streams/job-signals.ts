/**
 * An in-process bell per job: whoever changes a job here (a verified callback's nudge, a stream's own
 * advance) rings it, and every open event stream on that job in this process wakes and re-reads at
 * once. Other instances' changes are seen by the streams' re-read interval instead (job-stream.ts).
 */
type Listener = () => void;

// On globalThis: each route is its own bundle entry, and the callback routes and the events route
// must share one registry (as getParts() shares one store).
const holder = globalThis as typeof globalThis & { __styleStudioJobSignals?: Map<string, Set<Listener>> };
holder.__styleStudioJobSignals ??= new Map();
const listenersByJob = holder.__styleStudioJobSignals;

/** Calls `listener` whenever the job is signalled, until the returned function is called. */
export function onJobSignal(jobId: string, listener: Listener): () => void {
  let listeners = listenersByJob.get(jobId);
  if (!listeners) {
    listeners = new Set();
    listenersByJob.set(jobId, listeners);
  }
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && listenersByJob.get(jobId) === listeners) listenersByJob.delete(jobId);
  };
}

/** Wakes every listener on the job in this process (except `except`, the caller's own). */
export function signalJob(jobId: string, except?: Listener): void {
  for (const listener of [...(listenersByJob.get(jobId) ?? [])]) {
    if (listener !== except) listener();
  }
}

/** How many listeners a job has here (tests and logs: a closed stream must leave none). */
export function jobSignalListeners(jobId: string): number {
  return listenersByJob.get(jobId)?.size ?? 0;
}
