import net from "node:net";

/** A MONITOR connection to a Redis: every command it runs, as the raw lines MONITOR prints. */
export interface RedisMonitor {
  /** Resolves with the first line from now on that `matches`, or rejects after `timeoutMs`. */
  next(matches: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  close(): void;
}

export async function monitorRedis(port: number): Promise<RedisMonitor> {
  const socket = net.connect(port, "127.0.0.1");
  const waiters = new Set<(line: string) => void>();
  let buffered = "";
  socket.on("data", (data) => {
    buffered += data.toString("latin1");
    const lines = buffered.split("\r\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) for (const waiter of [...waiters]) waiter(line);
  });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  socket.write("MONITOR\r\n");
  return {
    next: (matches, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error("Redis never ran the awaited command"));
        }, timeoutMs);
        const waiter = (line: string) => {
          if (!matches(line)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(line);
        };
        waiters.add(waiter);
      }),
    close: () => socket.destroy(),
  };
}
