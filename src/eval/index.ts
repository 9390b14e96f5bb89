/**
 * Evaluation: the paper's metrics (./metrics.ts, pure), prompt presets (./prompts.ts), the driver that samples,
 * grades and stores (./evaluate.ts), the config-level entry point (./run.ts), reading finished evaluations
 * back (./results.ts) and the Table-1 comparison (./compare.ts).
 */
export * from "./metrics.js";
export * from "../sampling/prompts.js";
export * from "./evaluate.js";
export * from "./run.js";
export * from "./results.js";
export * from "./compare.js";
export * from "./format.js";
