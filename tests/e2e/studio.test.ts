import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AppServer, startApp } from "../support/app-server";
import { garmentPhoto, personPhoto, startForm } from "../support/images";
import { pollUntilDone, startJobOver } from "../support/poll";
import { expectNoAxeViolations } from "./axe";
import { type Browser, chromiumAvailable, launchBrowser } from "./browser";
import { type PhotoFile, type StreamFault, StudioPage } from "./studio-page";

// Slow enough offline steps that every progress view can be seen, reloaded and screenshotted.
const STEP_MS = "1500";
const FLOW_TIMEOUT_MS = 60_000;
const MOBILE = { width: 375, height: 812 };
/** Chromium logs a failed fetch as a console error; tests that cause one on purpose allow exactly it. */
const STATUS_404 = /Failed to load resource: the server responded with a status of 404/;
const STATUS_400 = /Failed to load resource: the server responded with a status of 400/;
const OFFLINE = /Failed to load resource: net::ERR_INTERNET_DISCONNECTED/;
/** What Chromium logs when an EventSource gets an answer that is not a stream (a test's broken stream). */
const NOT_A_STREAM = [
  /Failed to load resource: the server responded with a status of 503/,
  /EventSource's response has a MIME type/,
];

let person: PhotoFile;
let garment: PhotoFile;
let browser: Browser;
let app: AppServer;
const pages: StudioPage[] = [];

async function openStudio(
  url: string,
  viewport?: { width: number; height: number },
  allowedErrors: RegExp[] = [],
): Promise<StudioPage> {
  const studio = await StudioPage.open(browser.context, "about:blank");
  pages.push(studio);
  if (viewport) await studio.page.setViewportSize(viewport);
  // Set before the page loads: its first poll can fail (as expected) before goto() returns.
  studio.allowedErrors = allowedErrors;
  await studio.page.goto(url);
  return studio;
}

async function expectResult(studio: StudioPage): Promise<void> {
  await studio.waitForView("result", FLOW_TIMEOUT_MS);
  await expect.poll(() => studio.resultImageWidth(), { timeout: 10_000 }).toBeGreaterThan(0);
}

describe.skipIf(!chromiumAvailable())("the studio page in Chromium", () => {
  beforeAll(async () => {
    // A 12-megapixel portrait, as a phone takes it: the browser must shrink it before uploading.
    person = { name: "me.jpg", mimeType: "image/jpeg", buffer: await personPhoto(3000, 4000) };
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

  it("goes from an empty form to the result image and advice, uploading downscaled JPEGs", async () => {
    const studio = await openStudio(app.url);
    await studio.waitForView("form");
    await expect.poll(() => studio.submit.isDisabled()).toBe(true);
    expect(await studio.page.getByTestId("submit-reason").textContent()).toBe(
      "Add your photo, a garment photo and the occasion to continue.",
    );
    await studio.screenshot("01-form-empty");
    await expectNoAxeViolations(studio.page);

    await studio.choosePhotos(person, garment);
    expect(await studio.page.getByTestId("submit-reason").textContent()).toBe(
      "Add the occasion to continue.",
    );
    await studio.page.getByRole("button", { name: "Wedding guest", exact: true }).click();
    expect(await studio.occasion.inputValue()).toBe("Wedding guest");
    // Everything is there but the consent: the button stays off and says why.
    await expect
      .poll(() => studio.page.getByTestId("submit-reason").textContent())
      .toBe("Tick the box above to confirm, then continue.");
    expect(await studio.submit.isDisabled()).toBe(true);
    await studio.consent.check();
    await expect.poll(() => studio.submit.isEnabled()).toBe(true);
    await studio.screenshot("02-form-filled");

    // Keep what the page hands to XMLHttpRequest, to check the photos were shrunk before upload.
    await studio.page.evaluate(() => {
      const send = XMLHttpRequest.prototype.send;
      XMLHttpRequest.prototype.send = function (body) {
        if (body instanceof FormData) Object.assign(window, { sentForm: body });
        return send.call(this, body);
      };
    });
    await studio.submit.click();
    const sent = await studio.page.evaluate(async () => {
      const form = (window as unknown as { sentForm: FormData }).sentForm;
      const photos = await Promise.all(
        ["human_image", "garment_image"].map(async (field) => {
          const photo = form.get(field) as Blob;
          const bitmap = await createImageBitmap(photo);
          return { field, type: photo.type, bytes: photo.size, width: bitmap.width, height: bitmap.height };
        }),
      );
      return { photos, occasion: form.get("occasion"), consent: form.get("consent") };
    });
    for (const photo of sent.photos) {
      expect(photo.type).toBe("image/jpeg");
      expect(Math.max(photo.width, photo.height)).toBeLessThanOrEqual(1536);
    }
    // The 3000 × 4000 portrait arrives as 1152 × 1536: shrunk, not cropped.
    expect(sent.photos[0]).toMatchObject({ width: 1152, height: 1536 });
    expect(sent.photos.reduce((total, photo) => total + photo.bytes, 0)).toBeLessThan(4_500_000);
    expect(sent.occasion).toBe("Wedding guest");
    expect(sent.consent).toBe("true");

    await studio.waitForView("progress");
    expect(studio.page.url()).toMatch(/\/\?job=[0-9a-f-]{36}$/);
    await expect.poll(() => studio.focusedText()).toBe("Creating your look");
    await expect.poll(() => studio.progressStatus(), { timeout: 20_000 }).toBe("processing-style");
    expect(await studio.page.getByTestId("status-message").textContent()).toBe(
      "Creating a styled look for you…",
    );
    expect(await studio.page.getByTestId("announcer").textContent()).toBe("Step 2 of 4: Styling your look.");
    expect(await studio.page.locator('[aria-current="step"]').textContent()).toContain("Styling your look");
    await expect.poll(() => studio.page.getByTestId("elapsed").textContent()).toMatch(/^0:0[1-9]$/);
    await studio.page.getByTestId("look-progress").waitFor();
    await studio.screenshot("04-progress");
    await expectNoAxeViolations(studio.page);

    await expectResult(studio);
    const result = studio.view("result");
    expect(await studio.focusedText()).toBe("Your look is ready");
    expect((await result.getByTestId("advice-summary").textContent())?.length).toBeGreaterThan(20);
    expect(await result.getByTestId("advice-pieces").getByRole("listitem").count()).toBeGreaterThan(0);
    expect(await result.textContent()).toContain("“Wedding guest”");
    const download = result.getByRole("link", { name: "Download image" });
    expect(await download.getAttribute("download")).toBeTruthy();
    expect(await download.getAttribute("href")).toBe(
      await result.getByTestId("result-image").getAttribute("src"),
    );
    await studio.screenshot("06-result");
    await expectNoAxeViolations(studio.page);

    // The event stream carried the look: not one status poll, and nothing more once it finished.
    expect(studio.statusRequests).toEqual([]);
    expect(studio.eventRequests.length).toBeGreaterThanOrEqual(1);
    const streams = studio.eventRequests.length;
    await studio.page.waitForTimeout(2_500);
    expect(studio.eventRequests.length).toBe(streams);
    expect(studio.statusRequests).toEqual([]);

    await result.getByRole("button", { name: "Try another look" }).click();
    await studio.waitForView("form");
    expect(studio.page.url()).toBe(`${app.url}/`);
    expect(await studio.occasion.inputValue()).toBe("");
    expect(await studio.focusedText()).toBe("See it on you before you wear it");
  });

  it("resumes a job after a reload mid-way, from the address alone", async () => {
    const studio = await openStudio(app.url);
    await studio.fillForm(person, garment, "Date night");
    await studio.submit.click();
    await expect.poll(() => studio.progressStatus(), { timeout: 20_000 }).toBe("processing-style");
    const jobUrl = studio.page.url();

    await studio.page.reload();
    expect(studio.page.url()).toBe(jobUrl);
    await studio.waitForView("progress");
    await expect.poll(() => studio.view("progress").textContent()).toContain("“Date night”");
    await expect
      .poll(() => studio.progressStatus(), { timeout: 20_000 })
      .toMatch(/^processing-(tryon|faceswap)$/);
    await expectResult(studio);

    // A shared link shows the finished look straight away.
    const shared = await openStudio(jobUrl);
    await expectResult(shared);
  });

  /** Makes the page believe its tab is hidden (true) or visible again (false). */
  async function setHidden(studio: StudioPage, hidden: boolean): Promise<void> {
    await studio.page.evaluate((hide) => {
      if (hide) {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      } else {
        // Removing the overrides restores the real getters on Document.prototype.
        Reflect.deleteProperty(document, "hidden");
        Reflect.deleteProperty(document, "visibilityState");
      }
      document.dispatchEvent(new Event("visibilitychange"));
    }, hidden);
  }

  it("closes the event stream while the tab is hidden and reopens it when it is visible", async () => {
    const studio = await openStudio(app.url);
    await studio.fillForm(person, garment);
    await studio.submit.click();
    await expect.poll(() => studio.progressStatus(), { timeout: 20_000 }).toBe("pending");
    expect(studio.eventRequests.length).toBe(1);

    await setHidden(studio, true);
    await expect.poll(() => studio.eventStreamsEnded).toBe(1);
    await studio.page.waitForTimeout(3_000);
    expect(studio.eventRequests.length).toBe(1);

    await setHidden(studio, false);
    await expectResult(studio);
    expect(studio.eventRequests.length).toBe(2);
    expect(studio.statusRequests).toEqual([]);
  });

  it("pauses polling while the tab is hidden and resumes when it is visible", async () => {
    const studio = await openStudio(app.url, undefined, NOT_A_STREAM);
    await studio.breakEventStream("error");
    await studio.fillForm(person, garment);
    await studio.submit.click();
    await expect.poll(() => studio.progressStatus(), { timeout: 20_000 }).toBe("pending");

    await setHidden(studio, true);
    await studio.page.waitForTimeout(1_000); // a poll already in flight may still land
    const polls = studio.statusRequests.length;
    await studio.page.waitForTimeout(4_000);
    expect(studio.statusRequests.length).toBe(polls);

    await setHidden(studio, false);
    await expectResult(studio);
    expect(studio.statusRequests.length).toBeGreaterThan(polls);
  });

  it("asks for a finished look's view again every 10 minutes while it is shown, so signed image links stay alive", async () => {
    const jobId = await startJobOver(
      app.url,
      startForm({ person: person.buffer, garment: garment.buffer, occasion: "Gallery" }),
    );
    await pollUntilDone([app.url], jobId);
    const studio = await StudioPage.open(browser.context, "about:blank");
    pages.push(studio);
    // The page's own clock, so ten minutes pass in a moment.
    await studio.page.clock.install();
    await studio.page.goto(`${app.url}/?job=${jobId}`);
    await expectResult(studio);
    expect(studio.statusRequests).toEqual([]);

    await studio.page.clock.fastForward("09:00");
    await studio.page.waitForTimeout(300);
    expect(studio.statusRequests).toEqual([]);
    await studio.page.clock.fastForward("01:30");
    // Generous: under a loaded CI machine the page's timer and the server's answer can take seconds.
    await expect.poll(() => studio.statusRequests.length, { timeout: 15_000 }).toBe(1);
    await studio.waitForView("result");

    // None while the tab is hidden; one at once when it is shown again, overdue.
    await setHidden(studio, true);
    await studio.page.clock.fastForward("11:00");
    await studio.page.waitForTimeout(300);
    expect(studio.statusRequests.length).toBe(1);
    await setHidden(studio, false);
    await expect.poll(() => studio.statusRequests.length, { timeout: 15_000 }).toBe(2);
    await studio.waitForView("result");
  });

  for (const fault of ["error", "silent"] satisfies StreamFault[]) {
    it(`completes a look by polling when the event stream ${fault === "error" ? "fails" : "never answers (a buffering proxy)"}`, async () => {
      const studio = await openStudio(app.url, undefined, NOT_A_STREAM);
      await studio.breakEventStream(fault);
      await studio.fillForm(person, garment, "Date night");
      await studio.submit.click();
      await studio.waitForView("progress");
      await expectResult(studio);
      expect(studio.eventRequests.length).toBeGreaterThanOrEqual(1);
      expect(studio.statusRequests.length).toBeGreaterThan(1);
      // It falls back for good: polling alone, and it stops once the look is done.
      const polls = studio.statusRequests.length;
      await studio.page.waitForTimeout(2_500);
      expect(studio.statusRequests.length).toBe(polls);
    });
  }

  it("shows Reconnecting… while the network is down and carries on afterwards", async () => {
    const studio = await openStudio(app.url);
    studio.allowedErrors = [OFFLINE, ...NOT_A_STREAM];
    // On polling (the stream's fallback), whose failures show as Reconnecting….
    await studio.breakEventStream("error");
    await studio.fillForm(person, garment, "Job interview");
    await studio.submit.click();
    await studio.waitForView("progress");

    await studio.page.route("**/api/generation/status**", (route) => route.abort("internetdisconnected"));
    await studio.page.getByTestId("reconnecting").waitFor({ timeout: 15_000 });
    expect(await studio.page.getByTestId("reconnecting").textContent()).toContain("Reconnecting…");
    expect(await studio.page.getByTestId("announcer").textContent()).toBe("Connection lost. Reconnecting…");
    await studio.screenshot("05-progress-reconnecting");

    await studio.page.unroute("**/api/generation/status**");
    await expectResult(studio);
  });

  it("shows upload progress on a slow connection", async () => {
    const studio = await openStudio(app.url);
    await studio.fillForm(person, garment, "Date night");
    const cdp = await browser.context.newCDPSession(studio.page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 100,
      downloadThroughput: -1,
      uploadThroughput: 40 * 1024,
    });
    await studio.submit.click();
    const progress = studio.page.getByTestId("upload-progress");
    await progress.waitFor();
    await expect
      .poll(async () => Number(await progress.getAttribute("aria-valuenow")), { timeout: 20_000 })
      .toBeGreaterThan(10);
    expect(await studio.page.getByTestId("submit-reason").textContent()).toMatch(
      /^Uploading your photos… \d+%$/,
    );
    expect(await studio.personInput.isDisabled()).toBe(true);
    await studio.screenshot("03-form-uploading");

    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await studio.waitForView("progress", FLOW_TIMEOUT_MS);
    await cdp.detach();
  });

  it("refuses a file that is not an image, and says why", async () => {
    const studio = await openStudio(app.url);
    await studio.personInput.setInputFiles({
      name: "notes.jpg",
      mimeType: "image/jpeg",
      buffer: Buffer.from("These are my notes, not a photo.\n"),
    });
    const picker = studio.picker("human_image");
    const error = picker.getByTestId("picker-error");
    await error.waitFor();
    expect(await error.textContent()).toBe(
      "“notes.jpg” is not an image. Please choose a JPEG, PNG or WebP photo.",
    );
    expect(await studio.personInput.getAttribute("aria-invalid")).toBe("true");
    expect(await picker.getByTestId("picker-preview").count()).toBe(0);
    expect(await studio.submit.isDisabled()).toBe(true);
    await studio.screenshot("03-form-refused");

    // A real photo clears the complaint; Remove empties the slot again.
    await studio.personInput.setInputFiles(person);
    await picker.getByTestId("picker-preview").waitFor();
    expect(await error.count()).toBe(0);
    await picker.getByRole("button", { name: "Remove your photo" }).click();
    expect(await picker.getByTestId("picker-preview").count()).toBe(0);
  });

  it("refuses an iPhone's HEIC photo before uploading it, naming the format and what to do", async () => {
    const studio = await openStudio(app.url);
    const uploads: string[] = [];
    studio.page.on("request", (request) => {
      if (request.method() === "POST") uploads.push(request.url());
    });
    // The first bytes of a HEIC photo, with no type: some browsers give none for HEIC.
    const ftyp = Buffer.from("\0\0\0\x18ftypheic\0\0\0\0mif1heic", "latin1");
    await studio.personInput.setInputFiles({
      name: "IMG_0042.HEIC",
      mimeType: "",
      buffer: Buffer.concat([ftyp, Buffer.alloc(2048)]),
    });
    const error = studio.picker("human_image").getByTestId("picker-error");
    await error.waitFor();
    expect(await error.textContent()).toMatch(
      /^“IMG_0042\.HEIC” is a HEIC photo \(the format iPhones save in\), which we can’t read\. Please choose a JPEG, PNG or WebP version/,
    );
    expect(uploads).toEqual([]);
  });

  it("takes the person's photo with the camera, as well as from a file", async () => {
    const studio = await openStudio(app.url);
    const camera = studio.picker("human_image").getByTestId("camera-input");
    expect(await camera.getAttribute("capture")).toBe("user");
    await camera.setInputFiles(person);
    await studio.picker("human_image").getByTestId("picker-preview").waitFor();
    expect(await studio.picker("garment_image").getByTestId("camera-input").count()).toBe(0);
  });

  it("takes a photo dragged and dropped onto a picker", async () => {
    const studio = await openStudio(app.url);
    const dataTransfer = await studio.page.evaluateHandle(
      ({ base64, name, type }) => {
        const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type }));
        return transfer;
      },
      { base64: garment.buffer.toString("base64"), name: garment.name, type: garment.mimeType },
    );
    const picker = studio.picker("garment_image");
    await picker.locator("label").dispatchEvent("dragover", { dataTransfer });
    await picker.locator("label").dispatchEvent("drop", { dataTransfer });
    await picker.getByTestId("picker-preview").waitFor();
    expect(await picker.getByRole("button", { name: "Replace the garment photo" }).isVisible()).toBe(true);
  });

  it("says an unknown or malformed job link cannot be found and offers a fresh start", async () => {
    const studio = await openStudio(`${app.url}/?job=${randomUUID()}`, undefined, [STATUS_404, STATUS_400]);
    const view = await studio.waitForView("missing-job");
    expect(await view.getByRole("heading", { level: 1 }).textContent()).toBe("We can’t find that look");
    await studio.screenshot("08-missing-job");
    await expectNoAxeViolations(studio.page);

    await view.getByRole("button", { name: "Start a new look" }).click();
    await studio.waitForView("form");
    expect(studio.page.url()).toBe(`${app.url}/`);

    await studio.page.goto(`${app.url}/?job=not-a-job`);
    await studio.waitForView("missing-job");
  });

  it("can be used by keyboard alone, with focus following each view", async () => {
    const studio = await openStudio(app.url);
    const keyboard = studio.page.keyboard;
    const focusedName = () => studio.page.evaluate(() => document.activeElement?.getAttribute("name") ?? "");
    const tabTo = async (name: string) => {
      for (let i = 0; i < 12 && (await focusedName()) !== name; i++) await keyboard.press("Tab");
      expect(await focusedName()).toBe(name);
    };
    const chooseByKeyboard = async (name: string, file: PhotoFile) => {
      await tabTo(name);
      // Chromium opens a file input's dialog with Space (Enter submits forms, not file inputs). On a
      // loaded machine the first press can land before the page is interactive: press again, by keyboard.
      for (let press = 1; ; press++) {
        const chooser = studio.page.waitForEvent("filechooser", { timeout: 5_000 });
        await keyboard.press("Space");
        const opened = await chooser.catch((error: unknown) => {
          if (press === 3) throw error;
          return null;
        });
        if (opened) return opened.setFiles(file);
        expect(await focusedName()).toBe(name);
      }
    };

    await tabTo("human_image");
    await studio.screenshot("12-keyboard-focus");
    await chooseByKeyboard("human_image", person);
    await chooseByKeyboard("garment_image", garment);
    await tabTo("occasion");
    await keyboard.type("Gallery opening");
    await tabTo("consent");
    await keyboard.press("Space");
    expect(await studio.consent.isChecked()).toBe(true);
    // Both photos are downscaled in the background; the button is enabled only once both are ready.
    await studio.picker("human_image").getByTestId("picker-preview").waitFor();
    await studio.picker("garment_image").getByTestId("picker-preview").waitFor();
    await expect
      .poll(() => studio.page.getByRole("button", { name: "Get Styling Advice" }).isEnabled())
      .toBe(true);
    // Past the privacy link to the button.
    for (let i = 0; i < 4 && (await studio.focusedText()) !== "Get Styling Advice"; i++) {
      await keyboard.press("Tab");
    }
    expect(await studio.focusedText()).toBe("Get Styling Advice");
    await keyboard.press("Enter");

    await studio.waitForView("progress");
    await expect.poll(() => studio.focusedText()).toBe("Creating your look");
    await expectResult(studio);
    expect(await studio.focusedText()).toBe("Your look is ready");
    await keyboard.press("Tab");
    expect(await studio.focusedText()).toBe("Download image");
  });

  it("fits a 375 px phone screen with every control in view", async () => {
    const studio = await openStudio(app.url, MOBILE);
    await studio.waitForView("form");
    expect(await studio.horizontalOverflow()).toBeLessThanOrEqual(0);
    for (const control of [studio.picker("human_image"), studio.picker("garment_image"), studio.occasion]) {
      const box = await control.boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= MOBILE.width).toBe(true);
    }
    await studio.fillForm(person, garment, "Weekend casual");
    const button = await studio.submit.boundingBox();
    expect(button && button.x >= 0 && button.x + button.width <= MOBILE.width).toBe(true);
    await studio.screenshot("09-mobile-form");

    await studio.submit.click();
    await expect.poll(() => studio.progressStatus(), { timeout: 20_000 }).toBe("processing-style");
    expect(await studio.horizontalOverflow()).toBeLessThanOrEqual(0);
    await studio.screenshot("10-mobile-progress");

    await expectResult(studio);
    expect(await studio.horizontalOverflow()).toBeLessThanOrEqual(0);
    const image = await studio.page.getByTestId("result-image").boundingBox();
    expect(image?.width).toBeGreaterThan(300);
    await studio.screenshot("11-mobile-result");
  });

  describe("when a step fails", () => {
    let failing: AppServer;

    beforeAll(async () => {
      failing = await startApp({ LOCAL_STUDIO_STEP_MS: "300", LOCAL_STUDIO_FAIL_STEP: "tryon" });
    });

    afterAll(async () => {
      await failing?.stop();
    });

    it("shows the job's error, and going back to the form keeps the chosen photos", async () => {
      const studio = await openStudio(failing.url);
      await studio.fillForm(person, garment, "Job interview");
      await studio.submit.click();

      const view = await studio.waitForView("failure", FLOW_TIMEOUT_MS);
      expect(await studio.focusedText()).toBe("We couldn’t finish your look");
      expect((await view.getByTestId("failure-message").textContent())?.length).toBeGreaterThan(10);
      expect(await view.textContent()).toContain("Trying on the garment");
      await studio.screenshot("07-failure");
      await expectNoAxeViolations(studio.page);

      await view.getByRole("button", { name: "Change photos or occasion" }).click();
      await studio.waitForView("form");
      expect(studio.page.url()).toBe(`${failing.url}/`);
      expect(await studio.picker("human_image").getByTestId("picker-preview").count()).toBe(1);
      expect(await studio.picker("garment_image").getByTestId("picker-preview").count()).toBe(1);
      expect(await studio.occasion.inputValue()).toBe("Job interview");
      expect(await studio.submit.isEnabled()).toBe(true);
    });

    it("offers its owner a redo of the step that failed, as a new look starting at that step", async () => {
      const studio = await openStudio(failing.url);
      await studio.fillForm(person, garment, "Date night");
      await studio.submit.click();
      const view = await studio.waitForView("failure", FLOW_TIMEOUT_MS);
      const source = new URL(studio.page.url()).searchParams.get("job");
      expect(await view.getByTestId("failure-advice").textContent()).toMatch(/again/i);

      await view.getByRole("button", { name: "Retry “Trying on the garment”" }).click();
      await expect.poll(() => new URL(studio.page.url()).searchParams.get("job")).not.toBe(source);
      const redone = new URL(studio.page.url()).searchParams.get("job");
      // The offline studio fails the try-on every time: the new look stops at that same step.
      const again = studio.page.locator(`[data-testid="failure-view"][data-job="${redone}"]`);
      await again.waitFor({ timeout: FLOW_TIMEOUT_MS });
      expect(await again.textContent()).toContain("Trying on the garment");
      expect(await again.textContent()).toContain("Date night");
    });
  });
});
