/**
 * `tokensqueeze ablate [--quick]`: the paper's Tables 2–4 (selection variants, refinement on/off, objectives) on
 * the built-in world as one table, sharing samples and refinements across arms. Orchestration:
 * src/demo/ablate.ts; this file resolves the configuration (the `demo` preset, `demo-quick` with --quick) and prints.
 */
import type { Command } from "commander";
import { parseList, positiveInt } from "../options.js";
import { addRunFlags, resolveRunConfig, type RunFlags } from "../run-flags.js";

interface AblateFlags extends RunFlags {
  quick?: boolean;
  out?: string;
  arms?: string;
  threads?: string;
  progress?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("ablate")
    .description("the paper's ablations (selection variants, refinement on/off, objectives) on the built-in world, as one table (resumable)")
    .option("--quick", "the demo-quick preset: fewer problems and samples")
    .option("--out <dir>", "ablation directory; the same --out again resumes", "runs/ablate")
    .option("--arms <list>", "only these arms (q-dyn always runs): shortest, q-fix, q-dyn-extra-neg, no-refinement, sft, dpo, dpo+sft")
    .option("--threads <n>", "gradient threads for stage 3 (default: one per core)");
  addRunFlags(cmd)
    .option("--progress <mode>", "auto | bar | plain | json | none (progress goes to stderr)")
    .option("--json", "print the table and findings as JSON on stdout")
    .action(async (flags: AblateFlags) => {
      const { runAblation, formatAblation, ablateJson, ABLATION_ARMS } = await import("../../demo/ablate.js");
      const { createProgress, progressModeFrom } = await import("../../util/progress.js");
      const { commandLine } = await import("../../store/index.js");
      const { UserError } = await import("../../util/errors.js");
      const threads = flags.threads !== undefined ? positiveInt("--threads", flags.threads) : undefined;
      const arms = flags.arms !== undefined ? parseList("--arms", flags.arms) : undefined;
      for (const a of arms ?? []) {
        if (!ABLATION_ARMS.some((x) => x.name === a)) throw new UserError(`--arms: unknown arm "${a}" (arms: ${ABLATION_ARMS.map((x) => x.name).join(", ")})`);
      }
      const config = await resolveRunConfig({ ...flags, preset: flags.preset ?? (flags.quick ? "demo-quick" : "demo") });
      const progress = createProgress({ mode: progressModeFrom({ progress: flags.progress, json: flags.json }) });
      const argv = process.argv.slice(2);
      const result = await runAblation({ config, out: flags.out ?? "runs/ablate", arms, threads, progress, argv, resumeCommand: commandLine(argv) });
      process.stdout.write(flags.json ? JSON.stringify(ablateJson(result), null, 2) + "\n" : formatAblation(result));
    });
}
