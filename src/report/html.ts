/**
 * The report page: one self-contained HTML file. Plots are Vega-Lite specs, compiled to Vega here (their rows
 * inside, as the dataset `table`) and rendered by the inlined vega-embed (SVG renderer); each plot's rows are also
 * a CSV data: link; the theme follows prefers-color-scheme (and re-renders when it changes). `window.tokensqueezeReport.ready` settles when every
 * plot has rendered, which is what the browser tests and the open-time measurement wait for.
 */
import { benchmarkDisplayName, comparisonNotes, formatDelta, type Comparison, type ComparisonCell } from "../eval/compare.js";
import type { RunInfo } from "./collect.js";
import { vegaSpecOf } from "./compile.js";
import { packageVersionOf, plottingLibraries } from "./libraries.js";
import { plotCsv, type Plot } from "./plot.js";
import type { DiffPart } from "./word-diff.js";

export interface PageSection {
  id: string;
  title: string;
  /** Said instead of (or before) the plots: e.g. "not in this run: …". */
  notes: string[];
  plots: Plot[];
  /** Extra HTML after the plots (already escaped), e.g. the refinement examples. */
  html?: string;
}

export interface ExampleStep {
  stepIndex: number;
  steps: number;
  originalTokens: number;
  refinedTokens: number;
  divergence: number | null;
  diff: DiffPart[];
}

export interface RefinementExample {
  problemId: string;
  sampleIndex: number;
  tokensBefore: number;
  tokensAfter: number;
  steps: ExampleStep[];
}

export interface PageInput {
  title: string;
  generatedAt: string;
  version: string;
  inputs: string[];
  comparison: Comparison | null;
  sections: PageSection[];
  runs: RunInfo[];
  demos: Array<{ dir: string; summary: unknown }>;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** JSON inside <script type="application/json">: "<" escaped so no string can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

function lengthWithDelta(len: number | null, delta: number | undefined): string {
  if (len === null) return "—";
  return delta === undefined ? String(Math.round(len)) : `${Math.round(len)} (${formatDelta(delta)})`;
}

function comparisonCells(cell: ComparisonCell | undefined): string[] {
  if (!cell) return ["—", "—", "—", "—"];
  const mark = cell.mismatch ? "*" : "";
  return [cell.acc.toFixed(1), lengthWithDelta(cell.lenT, cell.lenTDelta) + mark, lengthWithDelta(cell.lenA, cell.lenADelta) + mark, cell.auc.toFixed(1)];
}

/** The headline table: the same cells and notes as `compare` prints. */
export function comparisonHtml(c: Comparison): string {
  const groups = c.benchmarks.map((b) => `<th colspan="4" scope="colgroup">${escapeHtml(benchmarkDisplayName(b))}</th>`).join("");
  const sub = c.benchmarks.map(() => ["Acc", "Len-T", "Len-A", "AUC"].map((h) => `<th scope="col">${h}</th>`).join("")).join("");
  const body = c.rows
    .map((r) => `<tr><th scope="row">${escapeHtml(r.label)}</th>${c.benchmarks.flatMap((b) => comparisonCells(r.cells[b])).map((v) => `<td>${escapeHtml(v)}</td>`).join("")}</tr>`)
    .join("\n");
  const notes = comparisonNotes(c);
  return [
    `<div class="table-wrap"><table class="headline"><thead><tr><th rowspan="2" scope="col">Model</th>${groups}</tr><tr>${sub}</tr></thead><tbody>${body}</tbody></table></div>`,
    `<p class="legend-note">Acc and AUC in %, lengths in tokens; Δ% against the first row.</p>`,
    notes.length > 0 ? `<pre class="notes${c.mismatches.length > 0 ? " warning" : ""}">${escapeHtml(notes.join("\n"))}</pre>` : "",
  ].join("\n");
}

function plotHtml(p: Plot): string {
  const csv = `data:text/csv;charset=utf-8,${encodeURIComponent(plotCsv(p))}`;
  return `<figure class="plot-card" id="card-${p.id}">
<figcaption><span class="plot-title">${escapeHtml(p.title)}</span> <a class="csv" download="${p.id}.csv" href="${csv}" data-plot="${p.id}">CSV</a></figcaption>
<div class="plot" id="plot-${p.id}" data-plot="${p.id}"></div>
<p class="caption">${escapeHtml(p.caption)}</p>
</figure>`;
}

export function examplesHtml(examples: readonly RefinementExample[]): string {
  if (examples.length === 0) return "";
  const side = (parts: DiffPart[], keep: "deleted" | "added") =>
    parts
      .filter((p) => p.op === "same" || p.op === keep)
      .map((p) => (p.op === "same" ? escapeHtml(p.text) : keep === "deleted" ? `<del>${escapeHtml(p.text)}</del>` : `<ins>${escapeHtml(p.text)}</ins>`))
      .join("");
  const blocks = examples.map((e) => {
    const rows = e.steps
      .map(
        (s) => `<tr><th scope="row">step ${s.stepIndex + 1} of ${s.steps}<br><span class="muted">${s.originalTokens} → ${s.refinedTokens} tokens${s.divergence === null ? "" : `, D = ${s.divergence.toPrecision(3)}`}</span></th>
<td class="step-text">${side(s.diff, "deleted")}</td><td class="step-text">${side(s.diff, "added")}</td></tr>`,
      )
      .join("\n");
    return `<div class="example"><h4>${escapeHtml(e.problemId)}, response ${e.sampleIndex}: ${e.tokensBefore} → ${e.tokensAfter} tokens</h4>
<div class="table-wrap"><table class="steps"><thead><tr><th></th><th scope="col">original (deleted words struck through)</th><th scope="col">refined (added words marked)</th></tr></thead><tbody>${rows}</tbody></table></div></div>`;
  });
  return `<h3>Original vs refined steps</h3>\n<p class="caption">The rewritten steps of a few chosen responses (the largest savings); steps not shown were kept as they were.</p>\n${blocks.join("\n")}`;
}

function sectionHtml(s: PageSection): string {
  return `<section id="${s.id}"><h2>${escapeHtml(s.title)}</h2>
${s.notes.map((n) => `<p class="${n.startsWith("not in this run") ? "missing" : "note"}">${escapeHtml(n)}</p>`).join("\n")}
${s.plots.length > 0 ? `<div class="plots">${s.plots.map(plotHtml).join("\n")}</div>` : ""}
${s.html ?? ""}
</section>`;
}

function runsHtml(runs: readonly RunInfo[], demos: PageInput["demos"]): string {
  const items = runs.map((r) => {
    const code = `${r.code.version}${r.code.gitCommit ? ` (git ${r.code.gitCommit.slice(0, 10)}${r.code.dirty ? ", uncommitted changes" : ""})` : ""}`;
    const stages = r.stages.map((s) => `${s.name}: ${s.status} (${s.done} done${s.failed > 0 ? `, ${s.failed} failed` : ""})`).join("; ") || "none";
    return `<details class="run"><summary><b>${escapeHtml(r.label)}</b> — ${r.kind === "eval" ? "evaluation" : "squeeze"} run; model ${escapeHtml(r.model.name)}</summary>
<table class="kv"><tbody>
<tr><th>directory</th><td><code>${escapeHtml(r.dir)}</code></td></tr>
<tr><th>model</th><td>${escapeHtml(r.model.name)} (${escapeHtml(r.model.engine)})${r.model.sha256 ? `<br><code>sha256 ${escapeHtml(r.model.sha256)}</code>` : ""}</td></tr>
<tr><th>created</th><td>${escapeHtml(r.createdAt)} by tokensqueeze ${escapeHtml(code)}</td></tr>
<tr><th>seed</th><td>${r.seed}</td></tr>
<tr><th>stages</th><td>${escapeHtml(stages)}</td></tr>
<tr><th>config</th><td><code>${escapeHtml(r.configHash)}</code></td></tr>
</tbody></table>
<pre class="config">${escapeHtml(JSON.stringify(r.config, null, 2))}</pre></details>`;
  });
  const demoItems = demos.map(
    (d) => `<details class="run"><summary><b>demo summary</b> — <code>${escapeHtml(d.dir)}/demo.json</code></summary>
<pre class="config">${d.summary === null ? "(no demo.json: the demo has not finished)" : escapeHtml(JSON.stringify(d.summary, null, 2))}</pre></details>`,
  );
  return `<details id="configuration"><summary><h2>Configuration and model identities</h2></summary>
${[...demoItems, ...items].join("\n")}
</details>`;
}

const STYLE = `
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2328; --muted: #57606a; --line: #d0d7de; --card: #f6f8fa;
  --del-bg: #ffebe9; --del-fg: #82071e; --ins-bg: #dafbe1; --ins-fg: #116329; --warn: #9a6700; --missing: #6e7781; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #30363d; --card: #161b22;
    --del-bg: #4b1113; --del-fg: #ffa198; --ins-bg: #0f3a1d; --ins-fg: #7ee787; --warn: #d29922; --missing: #8b949e; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 1.5rem; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { margin: 0 0 .25rem; font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
code, pre { font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; }
.muted, .caption, .legend-note, .meta { color: var(--muted); }
.caption { font-size: .85rem; margin: .25rem 0 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; }
table.headline th, table.headline td { border: 1px solid var(--line); padding: .3rem .6rem; text-align: right; white-space: nowrap; }
table.headline th[scope="row"] { text-align: left; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1rem; }
.plot-card { margin: 0; padding: .75rem; background: var(--card); border: 1px solid var(--line); border-radius: 6px; min-width: 0; }
.plot-card figcaption { display: flex; justify-content: space-between; gap: 1rem; font-weight: 600; }
.plot { width: 100%; min-height: 120px; overflow-x: auto; }
a.csv { font-weight: 400; font-size: .85rem; color: inherit; border: 1px solid var(--line); border-radius: 4px; padding: 0 .4rem; text-decoration: none; }
p.missing { color: var(--missing); font-style: italic; }
pre.notes { white-space: pre-wrap; background: var(--card); border: 1px solid var(--line); padding: .5rem; border-radius: 6px; }
pre.notes.warning { border-color: var(--warn); }
table.steps { width: 100%; } table.steps th, table.steps td { border: 1px solid var(--line); padding: .4rem; vertical-align: top; text-align: left; }
table.steps th[scope="row"] { white-space: nowrap; font-weight: 500; }
.step-text { white-space: pre-wrap; width: 45%; }
del { background: var(--del-bg); color: var(--del-fg); }
ins { background: var(--ins-bg); color: var(--ins-fg); text-decoration: none; }
details summary h2 { display: inline; border: 0; }
details.run { margin: .5rem 0; padding: .5rem; border: 1px solid var(--line); border-radius: 6px; }
table.kv th { text-align: left; padding-right: 1rem; font-weight: 500; color: var(--muted); vertical-align: top; }
pre.config { max-height: 30rem; overflow: auto; background: var(--card); padding: .5rem; border-radius: 4px; }
.error { color: var(--del-fg); }
`;

/** Renders the plots, again when the colour scheme changes; exposes the views and a ready promise. */
const CLIENT = `
(function () {
  var plots = JSON.parse(document.getElementById("ts-plots").textContent);
  var scheme = window.matchMedia("(prefers-color-scheme: dark)");
  var views = {};
  function theme(dark) {
    var fg = dark ? "#e6edf3" : "#1f2328", muted = dark ? "#9198a1" : "#57606a", grid = dark ? "#30363d" : "#d8dee4";
    return {
      background: null,
      font: "system-ui, -apple-system, Segoe UI, sans-serif",
      axis: { labelColor: muted, titleColor: fg, gridColor: grid, domainColor: muted, tickColor: muted },
      legend: { labelColor: fg, titleColor: fg },
      title: { color: fg },
      header: { labelColor: fg, titleColor: fg },
      view: { stroke: grid },
      range: { category: dark
        ? ["#58a6ff", "#ff7b72", "#3fb950", "#d2a8ff", "#e3b341", "#79c0ff", "#ffa657", "#a5d6ff"]
        : ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700", "#0550ae", "#bc4c00", "#57606a"] }
    };
  }
  function render() {
    var config = theme(scheme.matches);
    return Promise.all(plots.map(function (p) {
      var el = document.getElementById("plot-" + p.id);
      if (views[p.id]) views[p.id].finalize();
      // The theme is Vega's run-time config: the compiled specs carry no colours of their own.
      return vegaEmbed(el, p.spec, { renderer: "svg", actions: false, mode: "vega", config: config }).then(function (result) {
        views[p.id] = result.view;
      }, function (err) {
        el.innerHTML = '<p class="error">this plot could not be drawn: ' + String(err && err.message || err).replace(/</g, "&lt;") + "</p>";
        throw err;
      });
    })).then(function () {
      report.renders++;
      report.scheme = scheme.matches ? "dark" : "light";
      document.documentElement.setAttribute("data-rendered", report.scheme);
    });
  }
  var report = { plots: plots, views: views, renders: 0, scheme: null, ready: null };
  window.tokensqueezeReport = report;
  report.ready = render();
  scheme.addEventListener("change", function () {
    document.documentElement.removeAttribute("data-rendered");
    report.ready = render();
  });
})();
`;

export function renderPage(page: PageInput): string {
  const plots = page.sections.flatMap((s) => s.plots).map((p) => ({ id: p.id, spec: vegaSpecOf(p) }));
  const libs = plottingLibraries();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="tokensqueeze ${escapeHtml(page.version)}">
<title>${escapeHtml(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(page.title)}</h1>
<p class="meta">Generated ${escapeHtml(page.generatedAt)} by tokensqueeze ${escapeHtml(page.version)} from ${page.inputs.map((i) => `<code>${escapeHtml(i)}</code>`).join(", ")}.
Plots: Vega-Lite ${escapeHtml(packageVersionOf("vega-lite"))} specs rendered by ${libs.map((l) => `${l.name} ${l.version}`).join(", ")} (inlined; no network needed).</p>
</header>
<section id="headline"><h2>Headline</h2>
${page.comparison ? comparisonHtml(page.comparison) : `<p class="missing">not in this run: no evaluation among the inputs, so no accuracy or length table (give an evaluation run too).</p>`}
</section>
${page.sections.map(sectionHtml).join("\n")}
${runsHtml(page.runs, page.demos)}
${libs.map((l) => `<script>/* ${l.name} ${l.version} */\n${l.code}\n</script>`).join("\n")}
<script type="application/json" id="ts-plots">${scriptJson(plots)}</script>
<script>${CLIENT}</script>
</body>
</html>
`;
}
