import { type AppServer, startApp } from "@/tests/support/app-server";

/**
 * One live app process at a time, on one data folder and one store, killed and replaced on demand.
 * A spare process boots in the background (it serves nothing until promoted), so a kill costs the
 * pollers only the spare's remaining boot time, as a platform replacing a crashed instance would.
 */
export interface AppPool {
  /** The live process's base URL; it changes after every kill. */
  readonly url: string;
  /**
   * SIGKILLs the live process, runs `whileDown` (nothing serves meanwhile), then promotes the spare
   * (or boots one). Returns how long nothing was serving, in ms.
   */
  killAndReplace(whileDown: () => Promise<void>): Promise<number>;
  /** Boot times of every process started so far, in ms. */
  readonly bootTimes: number[];
  /** Every line any of the processes printed, prefixed with the process's number. */
  logs(): string[];
  close(): Promise<void>;
}

export async function startAppPool(env: Record<string, string>, dataDir: string): Promise<AppPool> {
  const bootTimes: number[] = [];
  const apps: AppServer[] = [];
  const boot = async () => {
    const started = Date.now();
    const app = await startApp(env, dataDir);
    bootTimes.push(Date.now() - started);
    apps.push(app);
    return app;
  };
  let live: AppServer = await boot();
  let spare: Promise<AppServer> = boot();
  // A spare that failed to boot is reported when it is promoted, not as an unhandled rejection.
  spare.catch(() => {});

  return {
    get url() {
      return live.url;
    },
    bootTimes,
    logs: () => apps.flatMap((app, i) => app.output.map((line) => `#${i} ${line}`)),
    async killAndReplace(whileDown) {
      const down = Date.now();
      await live.kill();
      await whileDown();
      live = await spare;
      spare = boot();
      spare.catch(() => {});
      return Date.now() - down;
    },
    async close() {
      await live.stop();
      await (await spare.catch(() => null))?.stop();
    },
  };
}
