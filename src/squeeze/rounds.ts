/**
 * Several offline rounds of the method (the paper does one and names this as its limitation): round r samples
 * from round r − 1's trained model, then selects, refines, exports pairs and trains again.
 *
 * Layout: round 1 is the run directory itself, round r > 1 is `<dir>/round-<r>`, each an ordinary resumable run
 * (the demo passes `runDir` to keep round r's squeeze in `<out>/round-<r>/squeeze`, beside its evaluation). Running
 * the same command again continues with the first unfinished round; finished rounds are read back from their records.
 */
import { join } from "node:path";
import type { RunConfig } from "../config/schema.js";
import type { Engine } from "../engines/engine.js";
import { openEngine, withResolvedModelPath } from "../engines/factory.js";
import { UserError } from "../util/errors.js";
import { runSqueeze, SqueezeSteps, type SqueezeOptions, type SqueezeResult } from "./pipeline.js";

/** Where round `round` (1-based) of a multi-round run lives. */
export function roundDir(dir: string, round: number): string {
  return round === 1 ? dir : join(dir, `round-${round}`);
}

/** The configuration with another model (a round's, or the one a round trained). */
export function withModel(config: RunConfig, model: string): RunConfig {
  return { ...config, engine: { ...config.engine, model } };
}

export interface SqueezeRoundsOptions extends Omit<SqueezeOptions, "steps" | "engine" | "dir" | "refineReuse"> {
  /** Round 1's run directory; later rounds go inside it. */
  dir: string;
  rounds: number;
  /** Round r's run directory, when not `roundDir(dir, r)` (the demo keeps each round's squeeze beside its evaluation). */
  runDir?: (round: number) => string;
  /** An engine already open on the first round's model (the caller closes it). */
  engine?: Engine;
  /** Told when a round starts (before its engine opens). */
  onRound?: (info: { round: number; of: number; dir: string; model: string }) => void;
  /**
   * Called after each round with an engine open on the model the round trained (the demo evaluates it there); the
   * next round samples with the same engine. Without it, each round opens the engine it needs and closes it.
   */
  afterRound?: (round: SqueezeRound, engine: Engine) => Promise<void>;
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
  const { rounds, onRound, afterRound, runDir, engine: callerEngine, ...rest } = opts;
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
  // The engine on the current round's model: the caller's for round 1, then (with afterRound) the one the hook used.
  let engine = callerEngine;
  let owned = false;
  const release = async (): Promise<void> => {
    if (owned && engine !== undefined) await engine.close();
    engine = undefined;
    owned = false;
  };
  try {
    for (let round = 1; round <= rounds; round++) {
      const dir = runDir?.(round) ?? roundDir(opts.dir, round);
      onRound?.({ round, of: rounds, dir, model });
      // Without an engine here, runSqueeze opens one for this round's model. A later round creates its run the first
      // time it starts, and resumes it (or reads it back, when finished) after that.
      const result = await runSqueeze({ ...rest, config: withModel(opts.config, model), dir, steps: SqueezeSteps, create: round > 1 || opts.create, engine });
      const trained = trainedModel(result, round);
      const done: SqueezeRound = { round, sampledFrom: model, model: trained, result };
      out.push(done);
      model = trained;
      await release();
      if (afterRound !== undefined) {
        const cwd = opts.cwd ?? process.cwd();
        engine = await openEngine(withResolvedModelPath(withModel(opts.config, model), cwd).engine, { cwd });
        owned = true;
        await afterRound(done, engine);
      }
    }
  } finally {
    await release();
  }
  return out;
}
