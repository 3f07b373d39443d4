import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { axeViolations } from "./axe";
import { type Browser, chromiumAvailable, launchBrowser } from "./browser";

/** Tailwind 4's stone-400 and stone-500, as the stepper's labels once used and now use. */
const STONE_400 = "oklch(70.9% 0.01 56.259)";
const STONE_500 = "oklch(55.3% 0.013 58.071)";

const stepper = (colour: string) => `<!doctype html><html lang="en"><head><title>Steps</title></head>
<body style="background:#fff"><main><h1>Creating your look</h1><ol>
<li style="color:${colour};font-size:14px">Trying on the garment</li>
<li style="color:${colour};font-size:14px">Finishing touches</li></ol></main></body></html>`;

describe.skipIf(!chromiumAvailable())("the axe-core audit (tests/e2e/axe.ts)", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  it("finds the serious contrast violation of the old upcoming-step labels, and none in the new", async () => {
    const page = await browser.context.newPage();
    try {
      await page.setContent(stepper(STONE_400));
      const old = await axeViolations(page);
      expect(old.map(({ id, impact }) => ({ id, impact }))).toEqual([
        { id: "color-contrast", impact: "serious" },
      ]);
      expect(old[0]?.nodes).toHaveLength(2);

      await page.setContent(stepper(STONE_500));
      expect(await axeViolations(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
