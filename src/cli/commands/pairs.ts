/**
 * `tokensqueeze pairs --run DIR --format trl|llama-factory --out FILE`: export a run's preference pairs (refined
 * chosen response, rejected response) for TRL or LLaMA-Factory. Derived from the run store; the same run always
 * gives the same bytes.
 */
import type { Command } from "commander";
import { addSqueezeFlags, runSqueezeCommand, type SqueezeFlags } from "../squeeze-command.js";
import { UserError } from "../../util/errors.js";

const FORMATS = ["trl", "llama-factory"] as const;

interface PairsFlags extends SqueezeFlags {
  format?: string;
  file?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command("pairs")
    .description("export a run's preference pairs for TRL (JSONL) or LLaMA-Factory (JSONL + dataset_info.json)")
    .option("--format <name>", `${FORMATS.join(" | ")} (default: both, as <run>/pairs.<format>.jsonl)`)
    .option("--out <file>", "the file to write (with one --format)");
  addSqueezeFlags(cmd, { creates: false }).action((flags: PairsFlags) =>
    runSqueezeCommand(flags, {
      steps: ["pairs"],
      creates: false,
      pairFormats: (f) => {
        if (f.format !== undefined && !(FORMATS as readonly string[]).includes(f.format)) throw new UserError(`--format: expected trl or llama-factory, got "${f.format}"`);
        if (f.out !== undefined && f.format === undefined) throw new UserError("--out names one file: give --format too");
        return { formats: f.format !== undefined ? [f.format as (typeof FORMATS)[number]] : undefined, out: f.out };
      },
    }),
  );
}
