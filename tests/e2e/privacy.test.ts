import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AppServer, startApp } from "../support/app-server";
import { garmentPhoto, personPhoto } from "../support/images";
import { type Browser, chromiumAvailable, launchBrowser } from "./browser";
import { type PhotoFile, StudioPage } from "./studio-page";

const FLOW_TIMEOUT_MS = 60_000;
/** A poll already on its way when a look is deleted answers 404; Chromium logs that as an error. */
const STATUS_404 = /Failed to load resource: the server responded with a status of 404/;

let person: PhotoFile;
let garment: PhotoFile;
let browser: Browser;
let app: AppServer;
const pages: StudioPage[] = [];

async function openStudio(): Promise<StudioPage> {
  const studio = await StudioPage.open(browser.context, "about:blank");
  pages.push(studio);
  studio.allowedErrors = [STATUS_404];
  await studio.page.goto(app.url);
  return studio;
}

/** Makes a look through the form and returns its job id once the result shows. */
async function makeLook(studio: StudioPage, occasion: string): Promise<string> {
  await studio.fillForm(person, garment, occasion);
  await studio.submit.click();
  await studio.waitForView("result", FLOW_TIMEOUT_MS);
  const jobId = new URL(studio.page.url()).searchParams.get("job");
  if (!jobId) throw new Error("the result view has no job in its address");
  return jobId;
}

const statusOf = async (jobId: string) =>
  (await fetch(`${app.url}/api/generation/status?jobId=${jobId}`)).status;

describe.skipIf(!chromiumAvailable())("deleting looks in Chromium (issue 14)", () => {
  beforeAll(async () => {
    person = { name: "me.jpg", mimeType: "image/jpeg", buffer: await personPhoto() };
    garment = { name: "shirt.png", mimeType: "image/png", buffer: await garmentPhoto("#16a085") };
    [browser, app] = await Promise.all([launchBrowser(), startApp({ LOCAL_STUDIO_STEP_MS: "200" })]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });
  afterEach(async () => {
    const studios = pages.splice(0);
    await Promise.all(studios.map((studio) => studio.close()));
    for (const studio of studios) expect(studio.errors).toEqual([]);
  });

  it("deletes one look from the result view, by keyboard, after a confirmation naming what goes", async () => {
    const studio = await openStudio();
    // The consent statement is beside the button, with the privacy page one link away.
    expect(
      await studio.page.getByRole("link", { name: "How your photos are handled" }).getAttribute("href"),
    ).toBe("/privacy");
    const jobId = await makeLook(studio, "Date night");
    const imageUrl = await studio.page.getByTestId("result-image").getAttribute("src");
    expect(imageUrl).toBeTruthy();
    const keyboard = studio.page.keyboard;

    // Escape keeps the look, and focus goes back to the button.
    await studio.page.getByTestId("delete-look").focus();
    await keyboard.press("Enter");
    const confirm = studio.page.getByTestId("delete-look-confirm");
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain(
      "Your photo, the garment photo, every image made from them",
    );
    await expect.poll(() => studio.focusedText()).toBe("Delete");
    await keyboard.press("Escape");
    await expect.poll(() => studio.focusedText()).toBe("Delete this look");
    expect(await statusOf(jobId)).toBe(200);
    await studio.screenshot("20-delete-look-confirm");

    await keyboard.press("Enter");
    await expect.poll(() => studio.focusedText()).toBe("Delete");
    await keyboard.press("Enter");
    await studio.waitForView("form");
    expect(await studio.page.getByTestId("deleted-notice").textContent()).toBe("The look was deleted.");
    expect(studio.page.url()).toBe(`${app.url}/`);
    expect(await statusOf(jobId)).toBe(404);
    expect((await fetch(`${app.url}${imageUrl}`)).status).toBe(404);
  });

  it("deletes all of this browser's looks from the page", async () => {
    const studio = await openStudio();
    const first = await makeLook(studio, "Job interview");
    await studio.page.getByRole("button", { name: "Try another look" }).click();
    await studio.waitForView("form");
    const second = await makeLook(studio, "Weekend casual");
    const listed = await studio.page.request.get(`${app.url}/api/generation/jobs`);
    expect(
      ((await listed.json()) as { jobs: Array<{ jobId: string }> }).jobs.map((job) => job.jobId),
    ).toEqual(expect.arrayContaining([first, second]));

    await studio.page.getByRole("button", { name: "Delete all my looks and photos" }).click();
    const confirm = studio.page.getByTestId("delete-all-confirm");
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain("Every look made in this browser");
    await confirm.getByRole("button", { name: "Delete", exact: true }).click();
    await studio.waitForView("form");
    expect(await studio.page.getByTestId("deleted-notice").textContent()).toBe(
      "All your looks and photos were deleted.",
    );
    expect([await statusOf(first), await statusOf(second)]).toEqual([404, 404]);
    const after = await studio.page.request.get(`${app.url}/api/generation/jobs`);
    expect(await after.json()).toEqual({ jobs: [] });
  });

  it("shows a privacy page that names each vendor, what it keeps, and how to delete", async () => {
    const studio = await openStudio();
    await studio.page.goto(`${app.url}/privacy`);
    const text = (await studio.page.locator("main").textContent()) ?? "";
    for (const phrase of [
      "OpenAI",
      "until we delete it",
      "Kling",
      "30 days",
      "Replicate",
      "1 hour",
      "1 day",
    ]) {
      expect(text, phrase).toContain(phrase);
    }
    expect(text).toContain("Delete all my looks and photos");
  });
});
