import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RESULTS_DIR } from "./paths";
import { round } from "./stats";

/** One line of the results table: a figure, the baseline measured in the same run, and its target. */
export interface Row {
  section: string;
  measure: string;
  figure: number;
  unit: string;
  baseline?: number;
  /** figure ÷ baseline. */
  ratio?: number;
  /** Printed as is, e.g. "≥ 0.8× baseline". */
  target?: string;
  /** Null when the row has no target (a figure reported for context). */
  met: boolean | null;
}

/** A row comparing a figure with its baseline, the target being a bound on their ratio. */
export function ratioRow(
  section: string,
  measure: string,
  unit: string,
  figure: number,
  baseline: number,
  bound: { atLeast?: number; atMost?: number },
): Row {
  const ratio = figure / baseline;
  const target = bound.atLeast !== undefined ? `≥ ${bound.atLeast}×` : `≤ ${bound.atMost}×`;
  const met = bound.atLeast !== undefined ? ratio >= bound.atLeast : ratio <= (bound.atMost ?? Infinity);
  return { section, measure, unit, figure, baseline, ratio, target, met };
}

export function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGb: round(os.totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
  };
}

const show = (value: number | undefined) => (value === undefined ? "" : String(round(value)));

export function formatTable(rows: readonly Row[]): string {
  const header = ["section", "measure", "figure", "baseline", "ratio", "target", "met"];
  const lines = rows.map((row) => [
    row.section,
    row.measure,
    `${show(row.figure)} ${row.unit}`.trim(),
    row.baseline === undefined ? "" : `${show(row.baseline)} ${row.unit}`.trim(),
    row.ratio === undefined ? "" : `${show(row.ratio)}×`,
    row.target ?? "",
    row.met === null ? "–" : row.met ? "yes" : "NO",
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...lines.map((line) => line[i]?.length ?? 0)),
  );
  const format = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ");
  return [format(header), format(widths.map((w) => "-".repeat(w))), ...lines.map(format)].join("\n");
}

/** The table as Markdown, ready to paste into docs/performance.md. */
export function formatMarkdown(rows: readonly Row[]): string {
  const lines = [
    "| section | measure | figure | baseline | ratio | target | met |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const cells = [
      row.section,
      row.measure,
      `${show(row.figure)} ${row.unit}`.trim(),
      row.baseline === undefined ? "" : `${show(row.baseline)} ${row.unit}`.trim(),
      row.ratio === undefined ? "" : `${show(row.ratio)}×`,
      row.target ?? "",
      row.met === null ? "–" : row.met ? "yes" : "**no**",
    ];
    lines.push(`| ${cells.map((cell) => cell.replace(/\|/g, "\\|")).join(" | ")} |`);
  }
  return lines.join("\n");
}

/** Writes the run to bench/results/<date>.json and .md (git-ignored) and returns the JSON file. */
export function writeResults(
  report: { rows: readonly Row[] } & Record<string, unknown>,
  smoke: boolean,
): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = path.join(RESULTS_DIR, `${smoke ? "smoke-" : ""}${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(file.replace(/\.json$/, ".md"), `${formatMarkdown(report.rows)}\n`);
  return file;
}
