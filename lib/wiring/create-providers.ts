import path from "node:path";
import { after } from "next/server";
import { klingCallbackUrlFor, replicateWebhookUrlFor } from "@/lib/callbacks/callback-urls";
import type { AppConfig } from "@/lib/config";
import { logEvent } from "@/lib/log";
import { createKlingProviders } from "@/lib/providers/kling";
import { createLocalProviders } from "@/lib/providers/local";
import { createOpenAIAdviceProvider } from "@/lib/providers/openai";
import { createReplicateFaceSwapProvider } from "@/lib/providers/replicate";
import type { Providers } from "@/lib/providers/types";

/** Keeps work alive after the response when called inside a request; a plain promise elsewhere. */
function runInBackground(work: () => Promise<void>): void {
  const guarded = () => work().catch((error: unknown) => logEvent("background.failed", { error }));
  try {
    after(guarded);
  } catch {
    // Outside a request scope (tests, scripts) there is no after(): the process itself keeps it alive.
    void guarded();
  }
}

/** Picks each step's provider: the real vendor when its keys are set, the offline studio otherwise. */
export function createProviders(config: AppConfig): Providers {
  const local = createLocalProviders({
    dir: path.join(config.dataDir, "local-studio"),
    stepMs: config.localStudioStepMs,
    failStep: config.localStudioFailStep,
  });
  // Callback URLs only when PUBLIC_BASE_URL (and, for Replicate, its signing secret) is set.
  const kling =
    config.kling && createKlingProviders({ ...config.kling, callbackUrl: klingCallbackUrlFor(config) });
  return {
    advice: config.openai ? createOpenAIAdviceProvider({ ...config.openai, runInBackground }) : local.advice,
    style: kling?.style ?? local.style,
    tryon: kling?.tryon ?? local.tryon,
    faceswap: config.replicate
      ? createReplicateFaceSwapProvider({ ...config.replicate, webhookUrl: replicateWebhookUrlFor(config) })
      : local.faceswap,
  };
}
