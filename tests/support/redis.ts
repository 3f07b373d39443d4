import net from "node:net";

export const TEST_REDIS_URL = "redis://127.0.0.1:6379";

/** Resolves true when a Redis answers PING on 127.0.0.1:6379. */
export function redisAnswers(timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(6379, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

/**
 * Whether Redis-backed suites run. On a laptop without Redis they skip loudly; under CI=true a
 * missing Redis is a failure, never a silent skip.
 */
export async function requireRedis(suite: string): Promise<boolean> {
  if (await redisAnswers()) return true;
  if (process.env.CI === "true") {
    throw new Error(`${suite}: Redis does not answer on 127.0.0.1:6379, and CI=true requires it.`);
  }
  console.warn(`\n*** SKIPPING ${suite}: no Redis on 127.0.0.1:6379 (start redis-server to run it) ***\n`);
  return false;
}
