import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AppServer, startApp } from "../support/app-server";
import { garmentPhoto, personPhoto } from "../support/images";
import { expectNoAxeViolations } from "./axe";
import { type Browser, chromiumAvailable, launchBrowser } from "./browser";
import { type PhotoFile, StudioPage } from "./studio-page";

// Slow enough offline steps (4 × 1.5 s) that a look can be cancelled or watched while it runs.
const STEP_MS = "1500";
const FLOW_TIMEOUT_MS = 60_000;
const MOBILE = { width: 375, height: 812 };
/**
 * The owner's actions on a look: none of them may show on someone else's. ("Delete all my looks and
 * photos" is not one: every visitor has it, for their own looks.)
 */
const OWNER_ACTIONS = [
  /^Cancel this look$/,
  /^Try it on again$/,
  /^Restyle$/,
  /^Compare/,
  /^Delete this look$/,
  /^Carry on/,
];

let person: PhotoFile;
let garment: PhotoFile;
let browser: Browser;
let app: AppServer;
const pages: StudioPage[] = [];

async function openStudio(url: string, on: Browser = browser): Promise<StudioPage> {
  const studio = await StudioPage.open(on.context, url);
  pages.push(studio);
  return studio;
}

/** Starts a look from the form and waits for its progress view; answers its job id. */
async function startLook(studio: StudioPage, suggestion: string): Promise<string> {
  await studio.fillForm(person, garment, suggestion);
  await studio.submit.click();
  await studio.waitForView("progress");
  const jobId = studio.jobIdInUrl();
  expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
  return jobId as string;
}

async function expectResult(studio: StudioPage): Promise<void> {
  await studio.waitForView("result", FLOW_TIMEOUT_MS);
  await expect.poll(() => studio.resultImageWidth(), { timeout: 10_000 }).toBeGreaterThan(0);
}

/**
 * Starts recording every status the progress view shows (its data-status), in order: the page follows
 * a look on its event stream, so the DOM is where every status it was told can be seen.
 */
async function recordProgressStatuses(studio: StudioPage): Promise<() => Promise<string[]>> {
  await studio.page.evaluate(() => {
    const seen: string[] = [];
    Object.assign(window, { seenStatuses: seen });
    new MutationObserver(() => {
      const status = document.querySelector('[data-testid="progress-view"]')?.getAttribute("data-status");
      if (status && seen.at(-1) !== status) seen.push(status);
    }).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["data-status"],
    });
  });
  return () => studio.page.evaluate(() => (window as unknown as { seenStatuses: string[] }).seenStatuses);
}

async function ownerButtons(studio: StudioPage): Promise<string[]> {
  const names = await studio.page.getByRole("button").allTextContents();
  return names.map((name) => name.trim()).filter((name) => OWNER_ACTIONS.some((action) => action.test(name)));
}

describe.skipIf(!chromiumAvailable())(
  "a person's looks in Chromium: gallery, cancel, redo, compare, share",
  () => {
    beforeAll(async () => {
      person = { name: "me.jpg", mimeType: "image/jpeg", buffer: await personPhoto(900, 1200) };
      garment = { name: "shirt.png", mimeType: "image/png", buffer: await garmentPhoto() };
      [browser, app] = await Promise.all([launchBrowser(), startApp({ LOCAL_STUDIO_STEP_MS: STEP_MS })]);
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

    it("lists the owner's looks, newest first with progress, and opens one by its link", async () => {
      // A browser of its own, so the gallery holds exactly the looks this test makes.
      const own = await launchBrowser();
      try {
        const studio = await openStudio(app.url, own);
        await studio.waitForView("form");
        await studio.page.getByTestId("my-looks-empty").waitFor();

        const first = await startLook(studio, "Wedding guest");
        await expectResult(studio);
        await studio.view("result").getByRole("button", { name: "Try another look" }).click();
        await studio.waitForView("form");
        const second = await startLook(studio, "Date night");

        await expect.poll(() => studio.myLooks.count(), { timeout: 10_000 }).toBe(2);
        const cards = studio.myLooks;
        expect(await cards.nth(0).getAttribute("href")).toBe(`/?job=${second}`);
        expect(await cards.nth(1).getAttribute("href")).toBe(`/?job=${first}`);
        // Each card is a link whose text (so its name) is its occasion, status and age.
        const text = (index: number) => cards.nth(index).textContent();
        expect(await cards.nth(0).getAttribute("aria-current")).toBe("page");
        expect(await text(0)).toMatch(/^Date night, Step [1-4] of 4 · just now$/);
        expect(await text(1)).toBe("Wedding guest, Ready · just now");
        expect(await cards.nth(1).locator("img").getAttribute("src")).toBeTruthy();
        // The look in progress shows its progress there, and it moves on.
        await expect.poll(() => text(0), { timeout: 20_000 }).toMatch(/^Date night, Step [3-4] of 4/);

        await studio.page.setViewportSize(MOBILE);
        expect(await studio.horizontalOverflow()).toBeLessThanOrEqual(0);
        await studio.page.getByTestId("my-looks").scrollIntoViewIfNeeded();
        await studio.screenshot("20-my-looks-mobile");
        await expectNoAxeViolations(studio.page);

        // Opened by keyboard: the link takes the page to that look, in place.
        await studio.page.getByRole("link", { name: /^Wedding guest\s*,\s*Ready/ }).focus();
        await studio.page.keyboard.press("Enter");
        await expectResult(studio);
        expect(studio.jobIdInUrl()).toBe(first);
        expect(await studio.view("result").textContent()).toContain("“Wedding guest”");
        expect(await studio.focusedText()).toBe("Your look is ready");
        expect(await cards.nth(1).getAttribute("aria-current")).toBe("page");
      } finally {
        await own.close();
      }
    });

    it("cancels a look from the progress view after a confirmation that says what was paid for", async () => {
      const studio = await openStudio(app.url);
      const jobId = await startLook(studio, "Job interview");
      await expect.poll(() => studio.progressStatus(), { timeout: 20_000 }).toBe("processing-style");

      const cancel = studio.page.getByRole("button", { name: "Cancel this look" });
      await cancel.click();
      const dialog = studio.page.getByRole("dialog", { name: "Cancel this look?" });
      await dialog.waitFor();
      const terms = await dialog.getByTestId("cancel-terms").textContent();
      expect(terms).toContain("Already done and paid for: Analysing your photos.");
      expect(terms).toContain("Never started, never charged: Trying on the garment, Finishing touches.");
      // The safe choice has the focus; Escape keeps the look going and gives the focus back.
      expect(await studio.focusedText()).toBe("Keep going");
      await studio.screenshot("21-cancel-confirm");
      await expectNoAxeViolations(studio.page);
      await studio.page.keyboard.press("Escape");
      await dialog.waitFor({ state: "hidden" });
      expect(await studio.focusedText()).toBe("Cancel this look");
      expect(await studio.view("progress").isVisible()).toBe(true);

      await studio.page.keyboard.press("Enter");
      await dialog.getByRole("button", { name: "Yes, cancel it" }).click();
      const failure = await studio.waitForView("failure", 10_000);
      expect(await failure.getByRole("heading", { level: 1 }).textContent()).toBe("You cancelled this look");
      expect(await failure.getByTestId("failure-message").textContent()).toBe("You cancelled this look.");
      expect(await failure.getByRole("button", { name: "Carry on from where it stopped" }).isVisible()).toBe(
        true,
      );
      await studio.screenshot("22-cancelled");
      await expectNoAxeViolations(studio.page);

      // It stays cancelled: no later step ever runs, on the page or in a fresh load of its link.
      await studio.page.waitForTimeout(4 * Number(STEP_MS));
      expect(await studio.view("failure").isVisible()).toBe(true);
      const status = await studio.page.evaluate(
        async (id) => (await fetch(`/api/generation/status?jobId=${id}`)).json(),
        jobId,
      );
      expect(status).toMatchObject({ status: "failed", errorCode: "cancelled", owned: true });
    });

    it("redoes the try-on from the result view: a new look that starts at the try-on", async () => {
      const studio = await openStudio(app.url);
      const source = await startLook(studio, "Weekend casual");
      await expectResult(studio);
      const statuses = await recordProgressStatuses(studio);

      await studio.view("result").getByRole("button", { name: "Try it on again" }).click();
      await studio.waitForView("progress");
      await expect.poll(() => studio.jobIdInUrl()).not.toBe(source);
      await expectResult(studio);
      expect(await studio.view("result").textContent()).toContain("“Weekend casual”");

      // The advice and the styled look were reused: the new look was never at those steps.
      const seen = await statuses();
      expect(seen).toContain("processing-tryon");
      expect(seen).not.toContain("pending");
      expect(seen).not.toContain("processing-style");
      // The source look is untouched.
      const original = await studio.page.evaluate(
        async (id) => (await fetch(`/api/generation/status?jobId=${id}`)).json(),
        source,
      );
      expect(original).toMatchObject({ status: "completed", owned: true });
    });

    describe("a finished look", () => {
      let jobId: string;

      beforeAll(async () => {
        // Not in `pages`: the afterEach checks a test's own pages.
        const studio = await StudioPage.open(browser.context, app.url);
        await studio.fillForm(person, garment, "Date night");
        await studio.submit.click();
        await studio.waitForView("result", FLOW_TIMEOUT_MS);
        jobId = studio.jobIdInUrl() as string;
        await studio.close();
      });

      it("compares the person's photo with the look on a slider that moves with the keyboard and the pointer", async () => {
        const studio = await openStudio(`${app.url}/?job=${jobId}`);
        await expectResult(studio);
        await studio.view("result").getByRole("button", { name: "Compare with your photo" }).click();
        const slider = studio.page.getByRole("slider", { name: "Compare your photo with the look" });
        await slider.waitFor({ state: "attached" });
        // Opening the compare puts the focus on its slider, so the arrow keys work at once.
        expect(await slider.evaluate((element) => element === document.activeElement)).toBe(true);
        expect(await slider.inputValue()).toBe("50");
        const clip = () =>
          studio.page.getByTestId("compare-before").evaluate((image) => image.style.clipPath);

        for (let i = 0; i < 5; i++) await studio.page.keyboard.press("ArrowLeft");
        expect(await slider.inputValue()).toBe("45");
        expect(await clip()).toBe("inset(0px 55% 0px 0px)");
        await studio.page.keyboard.press("End");
        expect(await slider.inputValue()).toBe("100");
        await studio.page.keyboard.press("Home");
        expect(await slider.inputValue()).toBe("0");
        expect(await slider.getAttribute("aria-valuetext")).toBe("0% of your photo shown, 100% of the look");
        await studio.screenshot("23-compare");
        await expectNoAxeViolations(studio.page);

        // A pointer (or a finger) drags the divider anywhere on the picture.
        const box = await studio.page.getByTestId("compare-slider").locator("div").first().boundingBox();
        if (!box) throw new Error("the compare frame has no box");
        await studio.page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
        await studio.page.mouse.down();
        await studio.page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 5 });
        await studio.page.mouse.up();
        expect(Number(await slider.inputValue())).toBeGreaterThanOrEqual(73);
        expect(Number(await slider.inputValue())).toBeLessThanOrEqual(77);
      });

      it("copies the view-only link, and says so", async () => {
        await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: app.url });
        const studio = await openStudio(`${app.url}/?job=${jobId}`);
        await expectResult(studio);
        await studio.view("result").getByRole("button", { name: "Copy link" }).click();
        await expect
          .poll(() => studio.page.getByTestId("copy-link-status").textContent())
          .toMatch(/^Link copied\./);
        expect(await studio.page.evaluate(() => navigator.clipboard.readText())).toBe(
          `${app.url}/?job=${jobId}`,
        );
      });

      it("shows someone else's link the look but none of the owner's actions", async () => {
        const other = await launchBrowser();
        try {
          const owner = await openStudio(app.url);
          const running = await startLook(owner, "Wedding guest");
          await owner.page.getByRole("button", { name: "Cancel this look" }).waitFor();
          expect(await ownerButtons(owner)).toEqual(["Cancel this look"]);

          const stranger = await openStudio(`${app.url}/?job=${running}`, other);
          await stranger.waitForView("progress");
          await expect.poll(() => stranger.progressStatus(), { timeout: 10_000 }).not.toBe("starting");
          expect(await ownerButtons(stranger)).toEqual([]);

          await stranger.page.goto(`${app.url}/?job=${jobId}`);
          await expectResult(stranger);
          expect(await ownerButtons(stranger)).toEqual([]);
          expect(await stranger.page.getByTestId("redo-actions").count()).toBe(0);
          expect(await stranger.view("result").getByRole("button", { name: "Copy link" }).isVisible()).toBe(
            true,
          );
          // Nothing of the owner's reaches the stranger: not the photo, not the owner's gallery.
          expect(await stranger.page.getByTestId("my-look").count()).toBe(0);
          expect(await stranger.page.getByTestId("compare-slider").count()).toBe(0);
          await stranger.screenshot("24-shared-link");
          await expectNoAxeViolations(stranger.page);
        } finally {
          await other.close();
        }
      });
    });
  },
);
