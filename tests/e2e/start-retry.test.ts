import type { Request as PlaywrightRequest, Route } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AppServer, startApp } from "../support/app-server";
import { garmentPhoto, personPhoto } from "../support/images";
import { countJobRows } from "../support/sqlite-jobs";
import { type Browser, chromiumAvailable, launchBrowser } from "./browser";
import { type PhotoFile, StudioPage } from "./studio-page";

/** Chromium logs each answer the test cuts off as a failed load. */
const CUT_OFF = /Failed to load resource: net::ERR_(?:CONNECTION_RESET|FAILED)/;

let person: PhotoFile;
let garment: PhotoFile;
let browser: Browser;
let app: AppServer;
const pages: StudioPage[] = [];

/** Lets the first `lost` start requests reach the server, then cuts their answers off, as a dropped connection. */
async function loseAnswers(studio: StudioPage, lost: number): Promise<string[]> {
  const keys: string[] = [];
  let seen = 0;
  await studio.page.route("**/api/generation/start", async (route: Route, request: PlaywrightRequest) => {
    keys.push((await request.allHeaders())["idempotency-key"] ?? "(none)");
    seen++;
    if (seen > lost) return route.continue();
    await route.fetch();
    await route.abort("connectionreset");
  });
  return keys;
}

describe.skipIf(!chromiumAvailable())("the studio page: one look per submit attempt", () => {
  beforeAll(async () => {
    person = { name: "me.jpg", mimeType: "image/jpeg", buffer: await personPhoto() };
    garment = { name: "shirt.png", mimeType: "image/png", buffer: await garmentPhoto() };
    [browser, app] = await Promise.all([launchBrowser(), startApp({ LOCAL_STUDIO_STEP_MS: "1000" })]);
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

  async function openStudio(): Promise<StudioPage> {
    const studio = await StudioPage.open(browser.context, app.url);
    pages.push(studio);
    studio.allowedErrors = [CUT_OFF];
    await studio.waitForView("form");
    return studio;
  }

  it("resends a start whose answer was lost with the same Idempotency-Key, and shows the one look", async () => {
    const studio = await openStudio();
    const before = countJobRows(app.dataDir);
    const keys = await loseAnswers(studio, 1);
    await studio.fillForm(person, garment);
    await studio.submit.click();
    await studio.waitForView("progress");
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(countJobRows(app.dataDir)).toBe(before + 1);
    await studio.waitForView("result", 60_000);
    // The next look is a new attempt: a new key, a new job.
    await studio.page.getByRole("button", { name: "Try another look" }).click();
    await studio.fillForm(person, garment, "Date night");
    await studio.submit.click();
    await studio.waitForView("progress");
    expect(keys).toHaveLength(3);
    expect(keys[2]).not.toBe(keys[0]);
    expect(countJobRows(app.dataDir)).toBe(before + 2);
  });

  it("reuses the key when the person submits the same look again after the answers were lost", async () => {
    const studio = await openStudio();
    const before = countJobRows(app.dataDir);
    // The first submit and both of its automatic resends lose their answers.
    const keys = await loseAnswers(studio, 3);
    await studio.fillForm(person, garment, "Job interview");
    await studio.submit.click();
    await studio.page.getByText("The server could not be reached").waitFor();
    expect(keys).toHaveLength(3);
    await studio.submit.click();
    await studio.waitForView("progress");
    expect(new Set(keys)).toEqual(new Set([keys[0]]));
    expect(keys).toHaveLength(4);
    expect(countJobRows(app.dataDir)).toBe(before + 1);
  });
});
