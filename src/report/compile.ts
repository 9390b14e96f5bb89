/**
 * Vega-Lite → Vega at report time, in Node: the page then carries only Vega and vega-embed, and opening it
 * skips a compile per plot (about half the work of rendering). The rows go into the spec as the dataset `table`.
 */
import { compile, type TopLevelSpec } from "vega-lite";
import { PLOT_DATASET, type Plot } from "./plot.js";

export function vegaSpecOf(plot: Pick<Plot, "spec" | "rows">): Record<string, unknown> {
  const lite = { ...plot.spec, datasets: { [PLOT_DATASET]: plot.rows }, data: { name: PLOT_DATASET } } as unknown as TopLevelSpec;
  const spec = compile(lite).spec as unknown as Record<string, unknown>;
  // The page's light or dark theme decides the background (Vega-Lite writes "white").
  delete spec.background;
  return spec;
}
