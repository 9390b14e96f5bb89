/**
 * `tokensqueeze sample`: stage-1 input. N responses per training problem at the sampling temperature (METHOD.md:
 * 0.9, top_p 1.0; N = 32 for real models, 16 on the built-in world), graded and stored in a new run (resumable).
 */
import type { Command } from "commander";
import { addSqueezeFlags, runSqueezeCommand, type SqueezeFlags } from "../squeeze-command.js";

export function register(program: Command): void {
  const cmd = program
    .command("sample")
    .description("stage 1 input: sample N responses per training problem and grade them (starts a squeeze run; resumable)");
  addSqueezeFlags(cmd, { creates: true, samplingFlags: true }).action((flags: SqueezeFlags) => runSqueezeCommand(flags, { steps: ["sample"], creates: true, samplingFlags: true }));
}
