/**
 * `tokensqueeze train --run DIR`: stage 3, DPO-L + SFT (METHOD.md) on the run's pairs. The embedded backend
 * trains in-process (reference log-probs stored in the run, checkpointed, resumable after a kill to the same
 * weights) and writes the model to <run>/model; the trl backend launches trainer/ with `accelerate launch`
 * (or prints the command with --dry-run) and writes <run>/model-trl. Settings are the run's `training` section.
 */
import type { Command } from "commander";
import { parseNumber, positiveInt } from "../options.js";
import { addSqueezeFlags, runSqueezeCommand, type SqueezeFlags } from "../squeeze-command.js";
import { UserError } from "../../util/errors.js";

const OBJECTIVES = ["dpo-l+sft", "dpo+sft", "dpo", "sft"];

interface TrainFlags extends SqueezeFlags {
  backend?: string;
  objective?: string;
  steps?: string;
  lr?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command("train")
    .description("stage 3: train the model on the run's pairs with DPO-L + SFT (embedded trainer; writes <run>/model)")
    .option("--backend <name>", "embedded (in-process, CPU) | trl (TRL + accelerate, for GPUs; trainer/)", "embedded")
    .option("--dry-run", "trl: print the exact `accelerate launch` command instead of running it")
    .option("--accelerate-config <file>", "trl: an accelerate config (trainer/accelerate/: one GPU, DeepSpeed ZeRO-3, FSDP2, two nodes)")
    .option("--objective <name>", `${OBJECTIVES.join(" | ")} (config training.objective)`)
    .option("--steps <n>", "optimizer steps (config training.steps; default: training.epochs over the pairs)")
    .option("--lr <lr>", "peak learning rate (config training.learningRate)")
    .option("--threads <n>", "gradient threads (default: one per core)");
  addSqueezeFlags(cmd, { creates: false }).action((flags: TrainFlags) => {
    if (flags.backend !== "embedded" && flags.backend !== "trl") throw new UserError(`--backend: expected embedded or trl, got "${flags.backend}"`);
    if (flags.backend !== "trl" && (flags.dryRun || flags.accelerateConfig !== undefined)) throw new UserError("--dry-run and --accelerate-config apply to --backend trl");
    return runSqueezeCommand(flags, {
      steps: ["train"],
      creates: false,
      overrides: (f) => {
        const o: Record<string, unknown> = {};
        if (f.objective !== undefined) {
          if (!OBJECTIVES.includes(f.objective)) throw new UserError(`--objective: expected one of ${OBJECTIVES.join(", ")}, got "${f.objective}"`);
          o["training.objective"] = f.objective;
        }
        if (f.steps !== undefined) o["training.steps"] = positiveInt("--steps", f.steps);
        if (f.lr !== undefined) o["training.learningRate"] = parseNumber("--lr", f.lr, (x) => x > 0, "a number > 0");
        return o;
      },
    });
  });
}
