/**
 * `tokensqueeze refine --run DIR`: stage 2, distribution-aligned linguistic refinement of every chosen response,
 * step by step, with the model itself (resumable). `--naive` turns METHOD.md's exact shortcuts off (same result,
 * many more model tokens: for checking).
 */
import type { Command } from "commander";
import { parseNumber, positiveInt } from "../options.js";
import { addSqueezeFlags, runSqueezeCommand, type SqueezeFlags } from "../squeeze-command.js";
import { UserError } from "../../util/errors.js";

const ESTIMATORS = ["auto", "exact", "topk", "sampled"];

interface RefineFlags extends SqueezeFlags {
  naive?: boolean;
  estimator?: string;
  epsilon?: string;
  candidates?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command("refine")
    .description("stage 2: rewrite each reasoning step of the chosen responses more concisely, keeping what the model would say next")
    .option("--epsilon <e>", "accept a candidate when its divergence D < epsilon (config refinement.epsilon; paper 0.005)")
    .option("--candidates <k>", "candidates sampled per step (config refinement.candidates; paper 64)")
    .option("--estimator <name>", `${ESTIMATORS.join(" | ")} (config refinement.estimator; auto picks the best the engine supports)`)
    .option("--naive", "score every candidate in its own request (config refinement.shortcuts=false): same result, for checking");
  addSqueezeFlags(cmd, { creates: false }).action((flags: RefineFlags) =>
    runSqueezeCommand(flags, {
      steps: ["refine"],
      creates: false,
      overrides: (f) => {
        const o: Record<string, unknown> = {};
        if (f.epsilon !== undefined) o["refinement.epsilon"] = parseNumber("--epsilon", f.epsilon, (x) => x > 0, "a number > 0");
        if (f.candidates !== undefined) o["refinement.candidates"] = positiveInt("--candidates", f.candidates);
        if (f.estimator !== undefined) {
          if (!ESTIMATORS.includes(f.estimator)) throw new UserError(`--estimator: expected one of ${ESTIMATORS.join(", ")}, got "${f.estimator}"`);
          o["refinement.estimator"] = f.estimator;
        }
        if (f.naive) o["refinement.shortcuts"] = false;
        return o;
      },
    }),
  );
}
