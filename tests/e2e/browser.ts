import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's Chromium (apt-get install -y chromium); playwright-core never downloads a browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Whether the browser suite can run. Without Chromium it is skipped with a loud reason, except under
 * CI=true, where a missing browser is a broken setup and fails the run.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  const reason = `${CHROMIUM_PATH} is missing: install it with \`apt-get install -y chromium\`.`;
  if (process.env.CI === "true") throw new Error(`Browser tests cannot run: ${reason}`);
  console.warn(`\n*** SKIPPING the browser tests: ${reason} ***\n`);
  return false;
}

export interface LaunchOptions {
  /** Extra Chromium flags, e.g. --host-resolver-rules to send a host to a local server. */
  args?: string[];
  ignoreHTTPSErrors?: boolean;
  bypassCSP?: boolean;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches Chromium with a fresh profile. Chromium writes into $HOME even then, so its temp, config and
 * cache folders point into a private folder, removed on close. That folder is under the OS temp folder,
 * never the checkout: Chromium puts a Unix socket under TMPDIR, and a socket path may be at most 107
 * bytes, which a checkout in a deep folder exceeds.
 */
export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  const root = mkdtempSync(path.join(os.tmpdir(), "ss-e2e-"));
  const dirs = { profile: "profile", tmp: "tmp", config: "config", cache: "cache" };
  for (const dir of Object.values(dirs)) mkdirSync(path.join(root, dir));
  const context = await chromium.launchPersistentContext(path.join(root, dirs.profile), {
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
    headless: true,
    ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
    bypassCSP: options.bypassCSP ?? false,
    viewport: { width: 1280, height: 900 },
    env: {
      ...process.env,
      TMPDIR: path.join(root, dirs.tmp),
      XDG_CONFIG_HOME: path.join(root, dirs.config),
      XDG_CACHE_HOME: path.join(root, dirs.cache),
    },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
