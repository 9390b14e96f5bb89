/**
 * `tokensqueeze squeeze --preset demo --out RUN` (or `--config F`): the whole data side of the method in one run
 * directory: sample → select (stage 1) → refine (stage 2) → pairs, resumable after Ctrl-C or SIGKILL at any
 * point, with progress and ETA per stage. Stage 3 trains on the exported pairs. With --rounds N (N > 1) it trains too:
 * N rounds, each sampling from the previous round's model.
 */
import type { Command } from "commander";
import { positiveInt } from "../options.js";
import { addSqueezeFlags, runSqueezeCommand, type SqueezeFlags } from "../squeeze-command.js";

export function register(program: Command): void {
  const cmd = program
    .command("squeeze")
    .description("sample → select → refine → pairs in one resumable run (e.g. --preset demo on the built-in model)");
  addSqueezeFlags(cmd, { creates: true, samplingFlags: true })
    .option("--rounds <n>", "N > 1: N rounds of sample → … → pairs → train (embedded), each from the previous round's model; round r in <out>/round-<r> (config rounds)")
    .option("--threads <n>", "gradient threads when --rounds trains (default: one per core)")
    .action((flags: SqueezeFlags & { rounds?: string }) =>
      runSqueezeCommand(flags, {
        steps: ["sample", "select", "refine", "pairs"],
        creates: true,
        samplingFlags: true,
        // Like demo's --rounds, the flag is not written into the run's config (a later call may add rounds).
        rounds: (f) => (f.rounds !== undefined ? positiveInt("--rounds", f.rounds) : undefined),
      }),
    );
}
