/**
 * `tokensqueeze select --run DIR`: stage 1, adaptive reasoning-depth selection over a run's samples (pure; no
 * model): the chosen responses per problem and the (chosen, rejected) pairs, capped at M per problem.
 */
import type { Command } from "commander";
import { parseNumber } from "../options.js";
import { addSqueezeFlags, runSqueezeCommand, type SqueezeFlags } from "../squeeze-command.js";
import { UserError } from "../../util/errors.js";

const VARIANTS = ["shortest", "q-fix", "q-dyn", "q-dyn-extra-neg"];

interface SelectFlags extends SqueezeFlags {
  variant?: string;
  alpha?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command("select")
    .description("stage 1: choose the short correct responses whose depth suits each problem, and pair them with longer wrong ones")
    .option("--variant <name>", `${VARIANTS.join(" | ")} (config selection.variant; q-dyn is the method)`)
    .option("--alpha <a>", "q = alpha · (1 − p) (config selection.alpha)");
  addSqueezeFlags(cmd, { creates: false }).action((flags: SelectFlags) =>
    runSqueezeCommand(flags, {
      steps: ["select"],
      creates: false,
      overrides: (f) => {
        const o: Record<string, unknown> = {};
        if (f.variant !== undefined) {
          if (!VARIANTS.includes(f.variant)) throw new UserError(`--variant: expected one of ${VARIANTS.join(", ")}, got "${f.variant}"`);
          o["selection.variant"] = f.variant;
        }
        if (f.alpha !== undefined) o["selection.alpha"] = parseNumber("--alpha", f.alpha, (x) => x >= 0 && x <= 1, "a number in [0, 1]");
        return o;
      },
    }),
  );
}
