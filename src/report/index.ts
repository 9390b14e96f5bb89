/**
 * The HTML report: `writeReport` reads evaluation runs, squeeze runs and demo directories and writes one
 * self-contained page (./report.ts); inputs are classified in ./inputs.ts, read in ./collect.ts, turned into
 * plots in ./eval-plots.ts and ./squeeze-plots.ts, and rendered in ./html.ts.
 */
export { writeReport, type WriteReportOptions, type WriteReportResult } from "./report.js";
export { resolveInputs, isDemoDir, type ReportRun, type ResolvedInputs } from "./inputs.js";
export { plotCsv, type Plot } from "./plot.js";
