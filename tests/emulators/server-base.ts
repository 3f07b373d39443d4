import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** What every vendor emulator's scripted fault carries: how many matching requests it applies to. */
interface CountedFault {
  times?: number;
}

/**
 * Consumes one use of the first fault `matches` accepts (each fault applies `times` times, default 1,
 * then leaves the queue); undefined when none matches. The queue stays readable by the tests.
 */
export function takeFault<F extends CountedFault>(
  faults: F[],
  matches: (fault: F) => boolean,
): F | undefined {
  const index = faults.findIndex(matches);
  const fault = faults[index];
  if (!fault) return undefined;
  const left = (fault.times ?? 1) - 1;
  if (left > 0) faults[index] = { ...fault, times: left };
  else faults.splice(index, 1);
  return fault;
}

/** Listens on 127.0.0.1 only (tests never leave loopback); `port` 0 picks a free one. Returns the base URL. */
export async function listenOnLoopback(server: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Stops the emulator's pending timers and connections (a hung answer must not hold the test run open). */
export async function closeServer(server: Server, timers: Iterable<NodeJS.Timeout>): Promise<void> {
  for (const timer of timers) clearTimeout(timer);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
