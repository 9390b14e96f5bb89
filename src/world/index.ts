/** The reasoning world: problems, traces, their analysis and the world report. */
export * from "./expression.js";
export * from "./columns.js";
export * from "./templates.js";
export * from "./traces.js";
export * from "./analysis.js";
export * from "./report.js";
export * from "./dataset.js";
