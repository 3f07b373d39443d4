#!/usr/bin/env bash
# The whole check: lint, typecheck, build (the integration suites run the built app), every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1

npx biome check .
npx tsc --noEmit
# .ci/run builds once before the benchmark smoke run and says so; everyone else gets a fresh build.
if [ "${REUSE_BUILD:-}" != "1" ]; then npx next build; fi

mkdir -p .tmp
status=0
npx vitest run --reporter=default --reporter=json --outputFile=.tmp/vitest-report.json || status=$?
# CI reads "N passed, N failed" alone on a line; vitest's own summary is not in that form.
node -e '
const r = JSON.parse(require("fs").readFileSync(".tmp/vitest-report.json", "utf8"));
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || true
exit "$status"
