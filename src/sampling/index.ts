/**
 * What every sampling stage shares (evaluation, stage-1 sampling, refinement): prompt presets and sampling and
 * grading one problem's answers. Neither eval nor squeeze owns it, so neither imports the other.
 */
export * from "./prompts.js";
export * from "./sample-problem.js";
