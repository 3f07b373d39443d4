import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import { expect } from "vitest";

/** axe-core's browser bundle, read once from node_modules (the pinned devDependency). */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** The rules run: WCAG 2.0–2.2 A and AA, and axe's best practices. */
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  /** Each failing node: its selector and axe's summary of what is wrong with it. */
  nodes: Array<{ target: string; summary: string }>;
}

/**
 * Runs axe-core in the page as it is now and returns its violations. The bundle is evaluated through
 * the DevTools protocol, which the page's Content-Security-Policy does not govern, so the page under
 * test is the one a person gets.
 */
export async function axeViolations(page: Page, include?: string): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(
    async ({ tags, include }) => {
      const axe = (window as unknown as { axe: typeof import("axe-core") }).axe;
      const results = await axe.run(include ? { include: [include] } : document, {
        runOnly: { type: "tag", values: tags },
        resultTypes: ["violations"],
      });
      return results.violations.map((violation) => ({
        id: violation.id,
        impact: violation.impact ?? null,
        help: violation.help,
        nodes: violation.nodes.map((node) => ({
          target: node.target.join(" "),
          summary: node.failureSummary ?? "",
        })),
      }));
    },
    { tags: AXE_TAGS, include },
  );
}

/**
 * Fails the test with a readable list when axe finds any violation in the page (or in the part
 * `include` selects). Finite animations are let finish first, so colours are measured as they settle.
 * `await expectNoAxeViolations(studio.page)` after a view is visible.
 */
export async function expectNoAxeViolations(page: Page, include?: string): Promise<void> {
  // Finite ones only: the running step's dot pulses for ever (and is decorative).
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((animation) => animation.effect?.getTiming().iterations !== Number.POSITIVE_INFINITY)
        .map((animation) => animation.finished.catch(() => undefined)),
    ),
  );
  const violations = await axeViolations(page, include);
  const report = violations.map(
    (violation) =>
      `${violation.impact ?? "?"} ${violation.id}: ${violation.help}\n${violation.nodes
        .map((node) => `  ${node.target}: ${node.summary.replaceAll("\n", " ")}`)
        .join("\n")}`,
  );
  expect(report, "axe-core violations").toEqual([]);
}
