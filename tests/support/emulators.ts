import { type KlingEmulator, startKlingEmulator } from "@/tests/emulators/kling";
import { type OpenAIEmulator, startOpenAIEmulator } from "@/tests/emulators/openai";
import { type ReplicateEmulator, startReplicateEmulator } from "@/tests/emulators/replicate";

export interface VendorEmulators {
  openai: OpenAIEmulator;
  kling: KlingEmulator;
  replicate: ReplicateEmulator;
  /** The app's environment that points every real adapter at these emulators. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Webhook settings of the emulators that sign theirs (Kling's callbacks need none: they are unsigned). */
export interface EmulatorWebhooks {
  /** The project webhook OpenAI posts response events to. */
  openai?: { url: string; secret: string };
  /** Replicate's account signing secret (`whsec_…`). */
  replicateSecret?: string;
}

/**
 * Starts the three vendor emulators with one task duration (on free ports unless `ports` are given),
 * and the env that wires the app to them. `httpImageOrigins`: loopback stores (the Blob emulator)
 * whose plain-http image URLs OpenAI's emulator takes as it would an https store's.
 */
export async function startVendorEmulators(
  taskDurationMs = 500,
  ports: { openai?: number; kling?: number; replicate?: number } = {},
  webhooks: EmulatorWebhooks = {},
  httpImageOrigins: string[] = [],
): Promise<VendorEmulators> {
  const [openai, kling, replicate] = await Promise.all([
    startOpenAIEmulator({ taskDurationMs, port: ports.openai, webhook: webhooks.openai, httpImageOrigins }),
    startKlingEmulator({ taskDurationMs, port: ports.kling }),
    startReplicateEmulator({
      taskDurationMs,
      port: ports.replicate,
      webhookSecret: webhooks.replicateSecret,
    }),
  ]);
  return {
    openai,
    kling,
    replicate,
    env: {
      OPENAI_API_KEY: "test-openai-key",
      OPENAI_BASE_URL: `${openai.url}/v1`,
      KLING_ACCESS_KEY: "test-access",
      KLING_SECRET_KEY: "test-secret",
      KLING_API_BASE_URL: kling.url,
      REPLICATE_API_TOKEN: "test-replicate-token",
      REPLICATE_API_BASE_URL: replicate.url,
    },
    close: async () => {
      await Promise.all([openai.close(), kling.close(), replicate.close()]);
    },
  };
}
