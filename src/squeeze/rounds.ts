/**
 * Several offline rounds of the method (the paper does one and names this as its limitation): round r samples
 * from round r − 1's trained model, then selects, refines, exports pairs and trains again.
 *
 * Layout: round 1 is the run directory itself, round r > 1 is `<dir>/round-<r>`, each an ordinary resumable run
 * (the demo nests its rounds the same way). Running the same command again continues with the first unfinished
 * round; finished rounds are read back from their records.
 */
import { join } from "node:path";
import type { RunConfig } from "../config/schema.js";
import { UserError } from "../util/errors.js";
import { runSqueeze, SqueezeSteps, type SqueezeOptions, type SqueezeResult } from "./pipeline.js";

/** Where round `round` (1-based) of a multi-round run lives. */
export function roundDir(dir: string, round: number): string {
  return round === 1 ? dir : join(dir, `round-${round}`);
}

export interface SqueezeRoundsOptions extends Omit<SqueezeOptions, "steps" | "engine" | "dir" | "refineReuse"> {
  /** Round 1's run directory; later rounds go inside it. */
  dir: string;
  rounds: number;
  /** Told when a round starts (before its engine opens). */
  onRound?: (info: { round: number; of: number; dir: string; model: string }) => void;
}

export interface SqueezeRound {
  round: number;
  /** The model this round sampled from. */
  sampledFrom: string;
  /** The model this round trained. */
  model: string;
  result: SqueezeResult;
}

function trainedModel(result: SqueezeResult, round: number): string {
  const model = result.training?.model ?? result.trl?.result?.model;
  if (model === undefined) throw new Error(`squeeze round ${round}: the round trained no model`);
  return model;
}

/** Runs `rounds` rounds of sample → select → refine → pairs → train, each from the previous round's model. */
export async function runSqueezeRounds(opts: SqueezeRoundsOptions): Promise<SqueezeRound[]> {
  const { rounds, onRound, ...rest } = opts;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`runSqueezeRounds: rounds must be a positive integer, got ${rounds}`);
  if (rounds > 1 && opts.dryRun) throw new UserError("--rounds: a TRL dry run trains nothing, so a later round would have no model to sample from");
  if (rounds > 1 && opts.config.engine.kind !== "embedded") {
    // A server engine samples from whatever the server loaded; the trained folder has to be served first.
    throw new UserError(
      `--rounds: a later round samples from the previous round's model folder, which only the embedded engine loads by itself (engine ${opts.config.engine.kind}); ` +
        "serve each round's model and run the next round as a new squeeze with --base-url",
    );
  }
  const out: SqueezeRound[] = [];
  let model = opts.config.engine.model;
  for (let round = 1; round <= rounds; round++) {
    const dir = roundDir(opts.dir, round);
    onRound?.({ round, of: rounds, dir, model });
    const config: RunConfig = { ...opts.config, engine: { ...opts.config.engine, model } };
    // Each round opens the engine for its own model. A later round creates its run the first time it starts, and
    // resumes it (or reads it back, when finished) after that.
    const result = await runSqueeze({ ...rest, config, dir, steps: SqueezeSteps, create: round > 1 || opts.create });
    const trained = trainedModel(result, round);
    out.push({ round, sampledFrom: model, model: trained, result });
    model = trained;
  }
  return out;
}
