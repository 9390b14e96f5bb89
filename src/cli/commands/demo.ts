/**
 * `tokensqueeze demo [--quick]`: evaluate the built-in model, squeeze it (stages 1–3), evaluate the squeezed
 * model on the same held-out problems, and print the paper's Table 1 with what changed. The orchestration is
 * src/demo/demo.ts; this file resolves the configuration (the `demo` preset, or `demo-quick` with --quick, then
 * --config/--set/flags as everywhere) and prints.
 */
import type { Command } from "commander";
import { positiveInt } from "../options.js";
import { addRunFlags, resolveRunConfig, type RunFlags } from "../run-flags.js";

interface DemoFlags extends RunFlags {
  quick?: boolean;
  out?: string;
  rounds?: string;
  threads?: string;
  progress?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("demo")
    .description("the whole method on the built-in model: evaluate → squeeze (stages 1–3) → evaluate, with the paper's Table 1 (resumable)")
    .option("--quick", "the demo-quick preset: fewer problems and samples, a few minutes on a laptop")
    .option("--out <dir>", "demo directory; the same --out again resumes", "runs/demo")
    .option("--rounds <n>", "squeeze rounds, each sampling from the previous round's model (config rounds; default 1)")
    .option("--threads <n>", "gradient threads for stage 3 (default: one per core)");
  addRunFlags(cmd)
    .option("--progress <mode>", "auto | bar | plain | json | none (progress goes to stderr)")
    .option("--json", "print the summary as JSON on stdout")
    .action(async (flags: DemoFlags) => {
      const { runDemo, formatDemo, demoJson } = await import("../../demo/demo.js");
      const { createProgress, progressModeFrom } = await import("../../util/progress.js");
      const { commandLine } = await import("../../store/index.js");
      const threads = flags.threads !== undefined ? positiveInt("--threads", flags.threads) : undefined;
      const config = await resolveRunConfig({ ...flags, preset: flags.preset ?? (flags.quick ? "demo-quick" : "demo") });
      // Without --rounds, runDemo takes the config's `rounds` (its default lives in the schema).
      const rounds = flags.rounds !== undefined ? positiveInt("--rounds", flags.rounds) : undefined;
      const progress = createProgress({ mode: progressModeFrom({ progress: flags.progress, json: flags.json }) });
      const argv = process.argv.slice(2);
      const result = await runDemo({
        config,
        out: flags.out ?? "runs/demo",
        rounds,
        threads,
        progress,
        argv,
        resumeCommand: commandLine(argv),
        onPart: (p) => progress.log(`demo [${p.index}/${p.of}] ${p.name}: done in ${p.seconds.toFixed(0)} s`),
      });
      process.stdout.write(flags.json ? JSON.stringify(demoJson(result), null, 2) + "\n" : formatDemo(result));
    });
}
