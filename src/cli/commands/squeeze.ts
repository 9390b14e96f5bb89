/**
 * `tokensqueeze squeeze --preset demo --out RUN` (or `--config F`): the whole data side of the method in one run
 * directory: sample → select (stage 1) → refine (stage 2) → pairs, resumable after Ctrl-C or SIGKILL at any
 * point, with progress and ETA per stage. Stage 3 trains on the exported pairs.
 */
import type { Command } from "commander";
import { addSqueezeFlags, runSqueezeCommand, type SqueezeFlags } from "../squeeze-command.js";

export function register(program: Command): void {
  const cmd = program
    .command("squeeze")
    .description("sample → select → refine → pairs in one resumable run (e.g. --preset demo on the built-in model)");
  addSqueezeFlags(cmd, { creates: true, samplingFlags: true }).action((flags: SqueezeFlags) =>
    runSqueezeCommand(flags, { steps: ["sample", "select", "refine", "pairs"], creates: true, samplingFlags: true }),
  );
}
