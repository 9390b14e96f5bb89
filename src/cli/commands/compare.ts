/**
 * `tokensqueeze compare <evalA> <evalB> …`: the paper's Table 1 (Acc / Len-T (Δ%) / Len-A (Δ%) / AUC per
 * benchmark) for several evaluations, changes relative to the first. Reads eval run directories (metrics
 * recomputed from their samples) or saved `eval --json` outputs. Where an evaluation covers other problems or
 * sample counts than the first, it says so and withholds Δ% unless `--allow-mismatch`.
 */
import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("compare")
    .description("compare evaluations in the paper's Table-1 layout (Acc / Len-T (Δ%) / Len-A (Δ%) / AUC), Δ vs the first")
    .argument("<evals...>", "eval run directories or `eval --json` output files; the first is the baseline")
    .option("--markdown", "print a Markdown table")
    .option("--json", "print the comparison as JSON")
    .option("--allow-mismatch", "show Δ% even between evaluations of different problems or sample counts")
    .action(async (paths: string[], opts: { markdown?: boolean; json?: boolean; allowMismatch?: boolean }) => {
      const { readEvalSummary } = await import("../../eval/results.js");
      const { buildComparison, comparisonMarkdown, comparisonText } = await import("../../eval/compare.js");
      const comparison = buildComparison(paths.map(readEvalSummary), { allowMismatch: opts.allowMismatch });
      if (opts.json) process.stdout.write(JSON.stringify(comparison, null, 2) + "\n");
      else process.stdout.write(opts.markdown ? comparisonMarkdown(comparison) : comparisonText(comparison));
    });
}
