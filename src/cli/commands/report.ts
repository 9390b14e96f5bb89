/**
 * `tokensqueeze report <run|eval|demo> [more …] -o report.html`: one self-contained HTML page of what the squeeze
 * did (budget curves, lengths, per-level results, stages 1–3, refined steps), and on the terminal the same
 * headline table as `compare`.
 */
import type { Command } from "commander";
import { UserError } from "../../util/errors.js";

export function register(program: Command): void {
  program
    .command("report")
    .description("write a self-contained HTML report of evaluation runs, squeeze runs or a demo directory (and print the compare table)")
    .argument("<runs...>", "evaluation runs, squeeze runs or a demo directory, in any mix; the first evaluation is the table's baseline")
    .requiredOption("-o, --out <file>", "the HTML file to write")
    .option("--allow-mismatch", "show Δ% even between evaluations of different problems or sample counts")
    .option("--examples <n>", "refined responses shown side by side per squeeze run (default 3)")
    .option("--title <text>", "the page title")
    .action(async (inputs: string[], opts: { out: string; allowMismatch?: boolean; examples?: string; title?: string }) => {
      const examples = opts.examples === undefined ? undefined : Number(opts.examples);
      if (examples !== undefined && (!Number.isInteger(examples) || examples < 0)) throw new UserError(`--examples must be a non-negative integer, got "${opts.examples}"`);
      const { writeReport } = await import("../../report/report.js");
      const result = await writeReport({ inputs, out: opts.out, allowMismatch: opts.allowMismatch, examples, title: opts.title });
      if (result.table !== null) process.stdout.write(result.table);
      for (const m of result.missing) process.stdout.write(`not in these runs: ${m}\n`);
      process.stdout.write(`report: ${result.path} (${(result.bytes / 1024).toFixed(0)} KiB, ${result.plots} plots)\n`);
    });
}
