/** `tokensqueeze runs show <dir>`: what a run holds (manifest, stages, tables, command history). */
import type { Command } from "commander";
import { UserError } from "../../util/errors.js";

export function register(program: Command): void {
  const runs = program.command("runs").description("inspect run directories");
  runs
    .command("show")
    .description("show a run: model, seed, code version, each stage's state, table sizes and the commands run against it")
    .argument("<dir>", "the run directory")
    .option("--json", "print the summary as JSON on stdout")
    .option("--history <n>", "how many recent commands to list", "10")
    .action(async (dir: string, opts: { json?: boolean; history: string }) => {
      const limit = Number(opts.history);
      if (!Number.isInteger(limit) || limit < 0) throw new UserError(`--history must be a non-negative integer, got "${opts.history}"`);
      const { RunStore } = await import("../../store/run-store.js");
      const { summarizeRun, formatRunSummary } = await import("../../store/summary.js");
      const store = RunStore.open(dir, { readonly: true });
      try {
        const summary = summarizeRun(store, { historyLimit: limit });
        process.stdout.write(opts.json ? JSON.stringify(summary, null, 2) + "\n" : formatRunSummary(summary));
      } finally {
        store.close();
      }
    });
}
