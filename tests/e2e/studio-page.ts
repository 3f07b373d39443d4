import { mkdirSync } from "node:fs";
import path from "node:path";
import type { BrowserContext, Locator, Page, Request } from "playwright-core";

export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, "../../test-results/screenshots");

const EVENTS_PATH = "/api/generation/events";

/**
 * How a test breaks the page's event stream: `error` answers 503 JSON (a server or proxy error),
 * `silent` never answers (a proxy that buffers the stream and so holds back its first event).
 */
export type StreamFault = "error" | "silent";

export type ViewName = "form" | "progress" | "result" | "failure" | "missing-job";

export interface PhotoFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

/** The studio page, driven the way a person would: by labels, roles and the views' test ids. */
export class StudioPage {
  /** Console errors and uncaught exceptions, with messages matching `allowedErrors` left out. */
  readonly errors: string[] = [];
  /** Every status poll the page sent, in order. */
  readonly statusRequests: string[] = [];
  /** Every event-stream connection the page opened, in order. */
  readonly eventRequests: string[] = [];
  /** Event-stream connections that ended on the page's side (closed, or cut). */
  eventStreamsEnded = 0;
  allowedErrors: RegExp[] = [];

  private constructor(readonly page: Page) {
    page.on("console", (message) => {
      if (message.type() === "error") this.recordError(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => this.recordError(`pageerror: ${error.message}`));
    page.on("request", (request) => {
      if (request.url().includes("/api/generation/status")) this.statusRequests.push(request.url());
      if (request.url().includes(EVENTS_PATH)) this.eventRequests.push(request.url());
    });
    const countEnded = (request: Request) => {
      if (request.url().includes(EVENTS_PATH)) this.eventStreamsEnded++;
    };
    page.on("requestfailed", countEnded);
    page.on("requestfinished", countEnded);
  }

  static async open(context: BrowserContext, url: string): Promise<StudioPage> {
    const studio = new StudioPage(await context.newPage());
    await studio.page.goto(url);
    return studio;
  }

  /** Makes every later event-stream connection fail as `fault` says; the page must poll instead. */
  async breakEventStream(fault: StreamFault): Promise<void> {
    await this.page.route(`**${EVENTS_PATH}**`, (route) =>
      fault === "error"
        ? route.fulfill({
            status: 503,
            contentType: "application/json",
            body: JSON.stringify({ error: "Unavailable.", code: "store_unavailable" }),
          })
        : new Promise<void>(() => {}),
    );
  }

  private recordError(text: string): void {
    if (!this.allowedErrors.some((pattern) => pattern.test(text))) this.errors.push(text);
  }

  get personInput(): Locator {
    return this.page.getByLabel("Your photo", { exact: true });
  }

  get garmentInput(): Locator {
    return this.page.getByLabel("Garment photo", { exact: true });
  }

  get occasion(): Locator {
    return this.page.getByLabel("Occasion", { exact: true });
  }

  /** The consent statement's checkbox beside the start button. */
  get consent(): Locator {
    return this.page.getByRole("checkbox", { name: /photo is of me/ });
  }

  get submit(): Locator {
    return this.page.getByRole("button", { name: "Get Styling Advice" });
  }

  picker(name: "human_image" | "garment_image"): Locator {
    return this.page.getByTestId(`picker-${name}`);
  }

  view(name: ViewName): Locator {
    return this.page.getByTestId(`${name}-view`);
  }

  async waitForView(name: ViewName, timeout = 30_000): Promise<Locator> {
    const view = this.view(name);
    await view.waitFor({ state: "visible", timeout });
    return view;
  }

  /** Chooses both photos and waits until both previews show. */
  async choosePhotos(person: PhotoFile, garment: PhotoFile): Promise<void> {
    await this.personInput.setInputFiles(person);
    await this.garmentInput.setInputFiles(garment);
    await this.picker("human_image").getByTestId("picker-preview").waitFor();
    await this.picker("garment_image").getByTestId("picker-preview").waitFor();
  }

  async fillForm(person: PhotoFile, garment: PhotoFile, suggestion = "Wedding guest"): Promise<void> {
    await this.choosePhotos(person, garment);
    await this.page.getByRole("button", { name: suggestion, exact: true }).click();
    await this.consent.check();
  }

  /** The status of the job in the progress view ("starting" before the first answer). */
  async progressStatus(): Promise<string | null> {
    const view = this.view("progress");
    return (await view.isVisible()) ? view.getAttribute("data-status") : null;
  }

  /** Text of the focused element, to check focus moved where it should. */
  focusedText(): Promise<string> {
    return this.page.evaluate(() => document.activeElement?.textContent?.trim() ?? "");
  }

  async resultImageWidth(): Promise<number> {
    return this.page
      .getByTestId("result-image")
      .evaluate((image: HTMLImageElement) => (image.complete ? image.naturalWidth : 0));
  }

  async horizontalOverflow(): Promise<number> {
    return this.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  }

  /** The look shown, from the address (`/?job=<id>`); null on the form. */
  jobIdInUrl(): string | null {
    return new URL(this.page.url()).searchParams.get("job");
  }

  /** The cards of the My looks gallery, newest first. */
  get myLooks(): Locator {
    return this.page.getByTestId("my-looks").getByTestId("my-look");
  }

  async screenshot(name: string): Promise<void> {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await this.page.screenshot({
      path: path.join(SCREENSHOT_DIR, `${name}.png`),
      fullPage: true,
      animations: "disabled",
    });
  }

  async close(): Promise<void> {
    await this.page.close();
  }
}
