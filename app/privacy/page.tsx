import type { Metadata } from "next";
import { getConfig } from "@/lib/config";
import { CONSENT_STATEMENT, CONSENT_VERSION } from "@/lib/consent";

export const metadata: Metadata = { title: "Privacy · Style Studio" };
// The retention shown is the deployment's own setting, read when the page is asked for.
export const dynamic = "force-dynamic";

function describeSeconds(seconds: number): string {
  if (seconds % 86_400 === 0) return seconds === 86_400 ? "1 day" : `${seconds / 86_400} days`;
  if (seconds % 3_600 === 0) return seconds === 3_600 ? "1 hour" : `${seconds / 3_600} hours`;
  if (seconds % 60 === 0) return `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

const VENDORS = [
  {
    name: "OpenAI",
    gets: "both photos and the occasion, to write the styling advice",
    keeps:
      "a stored copy of the request and answer until we delete it, which we do as soon as the advice is saved (and when you delete the look)",
  },
  {
    name: "Kling",
    gets: "both photos, to make the styled look and the try-on image",
    keeps: "the task and its images for up to 30 days (Kling offers no way for us to delete them sooner)",
  },
  {
    name: "Replicate",
    gets: "your photo and the try-on image, to restore your face in the final picture",
    keeps: "the prediction and its files for 1 hour, then deletes them itself",
  },
] as const;

/** What is sent to whom, who keeps what for how long, and how to delete it: in plain words. */
export default function PrivacyPage() {
  const config = getConfig();
  const keep = describeSeconds(config.jobTtlSeconds);
  const sweep = describeSeconds(config.retentionSweepSeconds);
  return (
    <main className="mx-auto max-w-2xl px-5 py-10 text-base leading-relaxed text-stone-700 sm:px-8 sm:py-14">
      <p>
        <a href="/" className="text-sm text-stone-500 underline underline-offset-2">
          ← Back to Style Studio
        </a>
      </p>
      <h1 className="mt-4 font-serif text-3xl text-stone-900">Your photos and your privacy</h1>
      <p className="mt-4">
        Style Studio works with photos of people. This page says what happens to them, who keeps what, for how
        long, and how you delete it.
      </p>

      <h2 className="mt-8 font-medium text-stone-900">What you agree to</h2>
      <p className="mt-2">
        Before a look starts you confirm: “{CONSENT_STATEMENT}” We record that you agreed, the version of this
        statement ({CONSENT_VERSION}) and when — nothing else about you. There are no accounts: a cookie in
        this browser marks the looks it made, so only this browser can delete them. Anyone you give a look’s
        link to can view it.
      </p>

      <h2 className="mt-8 font-medium text-stone-900">What is sent to which company, and what they keep</h2>
      <ul className="mt-2 list-disc space-y-2 pl-5">
        {VENDORS.map((vendor) => (
          <li key={vendor.name}>
            <strong className="text-stone-900">{vendor.name}</strong> gets {vendor.gets}; it keeps{" "}
            {vendor.keeps}.
          </li>
        ))}
      </ul>
      <p className="mt-2">
        A deployment without these services makes a rough preview on its own server instead, and sends nothing
        anywhere.
      </p>

      <h2 className="mt-8 font-medium text-stone-900">How long Style Studio keeps it</h2>
      <p className="mt-2">
        Your photos, the images made from them and the advice are kept for {keep} after the look last changed.
        Then they are deleted automatically, usually within {sweep}: nobody has to do anything. A photo
        uploaded for a look that never started is deleted an hour after it was uploaded, at the next clean-up.
      </p>

      <h2 className="mt-8 font-medium text-stone-900">How to delete it sooner</h2>
      <p className="mt-2">
        On a finished or failed look, choose <strong>Delete this look</strong>. To delete everything this
        browser made, choose <strong>Delete all my looks and photos</strong> at the bottom of the studio.
        Deleting stops a look still in progress, removes your photos and every image of it from Style Studio
        at once (its links stop working), and deletes OpenAI’s stored copy.
      </p>
    </main>
  );
}
