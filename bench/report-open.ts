/**
 * How long a report takes to open in headless Chromium, and its size:
 *
 *   node --import tsx bench/report-open.ts <report.html> [--runs 8] [--baseline other.html]
 *
 * "Open" is navigation until every plot has rendered (the page sets data-rendered on <html> once
 * window.tokensqueezeReport.ready settles), in a fresh page each time, light and dark alternating. With
 * --baseline, the two files take turns, so load drift on a shared machine hits both alike and their ratio is
 * meaningful. Prints one JSON object (the command line and the load average are in it). Needs /usr/bin/chromium
 * (or TOKENSQUEEZE_CHROMIUM).
 */
import { statSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { runs: { type: "string", default: "8" }, baseline: { type: "string" } } });
if (positionals.length !== 1) {
  process.stderr.write("usage: node --import tsx bench/report-open.ts <report.html> [--runs 8] [--baseline other.html]\n");
  process.exit(2);
}
const runs = Number(values.runs);
const files = [resolve(positionals[0]), ...(values.baseline ? [resolve(values.baseline)] : [])];
const browser = await chromium.launch({
  executablePath: process.env.TOKENSQUEEZE_CHROMIUM ?? "/usr/bin/chromium",
  args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
});
const times: number[][] = files.map(() => []);
const loadBefore = loadavg()[0];
try {
  for (let i = 0; i < runs; i++) {
    for (const [f, file] of files.entries()) {
      const scheme = i % 2 === 0 ? "light" : "dark";
      const page = await browser.newPage({ colorScheme: scheme, viewport: { width: 1280, height: 900 } });
      const t0 = performance.now();
      await page.goto(pathToFileURL(file).href);
      await page.waitForFunction(`document.documentElement.getAttribute("data-rendered") === "${scheme}"`, undefined, { timeout: 60_000 });
      times[f].push(performance.now() - t0);
      await page.close();
    }
  }
} finally {
  await browser.close();
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const summary = files.map((file, f) => ({
  file,
  bytes: statSync(file).size,
  openMsMedian: Math.round(median(times[f])),
  openMsMin: Math.round(Math.min(...times[f])),
  openMsMax: Math.round(Math.max(...times[f])),
}));
process.stdout.write(
  JSON.stringify(
    {
      command: process.argv.slice(1).join(" "),
      runs,
      cores: cpus().length,
      loadAverage: { before: loadBefore, after: loadavg()[0] },
      reports: summary,
      ...(files.length === 2 ? { medianRatio: Number((median(times[0]) / median(times[1])).toFixed(3)) } : {}),
    },
    null,
    2,
  ) + "\n",
);
