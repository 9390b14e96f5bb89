/**
 * Opening a report in real headless Chromium (Debian's `chromium`, driven by playwright-core) and reading back
 * what it drew: console errors, network requests, marks per plot, each CSV link's text, the rows each Vega view
 * holds, and screenshots.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";

export const chromiumPath = process.env.TOKENSQUEEZE_CHROMIUM ?? "/usr/bin/chromium";

/** Where screenshots and measured figures go (kept after the test, printed by it). */
export function artifactsDir(name: string): string {
  const dir = join(process.env.TOKENSQUEEZE_TEST_ARTIFACTS ?? join(tmpdir(), "tokensqueeze-test-artifacts"), name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function launchChromium(): Promise<Browser> {
  // Chromium's sandbox refuses to start as root (CI containers); elsewhere it stays on.
  const args = process.getuid?.() === 0 ? ["--no-sandbox"] : [];
  return chromium.launch({ executablePath: chromiumPath, args });
}

export interface OpenedReport {
  /** Milliseconds from navigation to every plot rendered. */
  openMs: number;
  /** Console errors and warnings, page errors, and any request that is not file: or data:. */
  problems: string[];
  /** Per plot id: the number of data marks drawn (SVG items in Vega's mark groups, axes and legends excluded). */
  marks: Record<string, number>;
  /** Per plot id: the items of its line marks (one path per curve). */
  lines: Record<string, number>;
  /** Per plot id: the CSV its download link holds. */
  csv: Record<string, string>;
  /** Per plot id: the rows the Vega view draws from. */
  viewRows: Record<string, Array<Record<string, unknown>>>;
  /** Per plot id: the legend labels. */
  legends: Record<string, string[]>;
  text: string;
  /** Elements matching `del` in the refinement examples. */
  deletions: number;
  background: string;
  /** The fill of the first axis label Vega drew (the theme's colour for the scheme). */
  axisLabelFill: string | null;
}

/** Runs in the page (a string: the test's TypeScript program has no DOM types). */
const READ_PAGE = `(async () => {
  const report = window.tokensqueezeReport;
  const marks = {}, lines = {}, csv = {}, viewRows = {}, legends = {};
  for (const el of document.querySelectorAll("div.plot")) {
    const id = el.dataset.plot;
    marks[id] = el.querySelectorAll("svg g.role-mark > *").length;
    lines[id] = el.querySelectorAll("svg g.mark-line.role-mark > path").length;
    legends[id] = Array.from(el.querySelectorAll("svg g.role-legend-label text")).map((t) => t.textContent);
    const link = document.querySelector('a.csv[data-plot="' + id + '"]');
    csv[id] = link ? await (await fetch(link.href)).text() : "";
    // Vega adds bookkeeping under Symbol keys; spreading keeps the plain fields.
    viewRows[id] = report.views[id].data("table").map((r) => ({ ...r }));
  }
  return {
    marks, lines, csv, viewRows, legends,
    text: document.body.innerText,
    deletions: document.querySelectorAll("table.steps del").length,
    background: getComputedStyle(document.body).backgroundColor,
    axisLabelFill: document.querySelector("svg g.role-axis-label text")?.getAttribute("fill") ?? null,
  };
})()`;

export async function openReport(browser: Browser, file: string, scheme: "light" | "dark", screenshot?: string): Promise<OpenedReport> {
  const page = await browser.newPage({ colorScheme: scheme, viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    if (!/^(file|data|blob):/.test(r.url())) problems.push(`network request: ${r.url()}`);
  });
  try {
    const t0 = performance.now();
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction(`document.documentElement.getAttribute("data-rendered") === "${scheme}"`, undefined, { timeout: 30_000 });
    const openMs = performance.now() - t0;
    const result = (await page.evaluate(READ_PAGE)) as Omit<OpenedReport, "openMs" | "problems">;
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    return { openMs, problems, ...result };
  } finally {
    await page.close();
  }
}

/** Parses RFC 4180 CSV (quoted fields, CRLF) into header-keyed rows of strings. */
export function parseCsv(text: string): Array<Record<string, string>> {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      record.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || record.length > 0) records.push([...record, field]);
  const [header, ...rows] = records;
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}
