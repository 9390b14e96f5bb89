/**
 * Stage 3 on TRL (trainer/tokensqueeze_trainer, a DPOTrainer subclass with the same loss as the embedded trainer):
 * the exact `accelerate launch` command for a run, from the run's `training` section, and running it with its
 * JSON progress lines streamed. GPU clusters run the printed command (`train --backend trl --dry-run`) on their
 * own machines; this machine can run it on CPU for small models.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { isServerEngineKind, type RunConfig } from "../config/schema.js";
import { resolveModelPath } from "../engines/factory.js";
import type { RunStore } from "../store/index.js";
import { shellQuote } from "../store/index.js";
import { UserError } from "../util/errors.js";
import type { ProgressReporter } from "../util/progress.js";
import { packageRoot } from "../util/version.js";
import { exportPairs } from "./pairs.js";

export const TRL_MODEL_DIR = "model-trl";

export interface TrlLaunch {
  /** argv of the launch (argv[0] is the program). */
  argv: string[];
  /** The same as one shell line. */
  command: string;
  pairs: string;
  out: string;
  progressLog: string;
}

export interface TrlOptions {
  /** An accelerate config file (trainer/accelerate/*.yaml); none: accelerate's defaults (one process). */
  accelerateConfig?: string;
  cwd?: string;
}

/** The accelerate program: the project venv's when there is one, else the one on PATH. */
function accelerateProgram(): string {
  const venv = join(packageRoot(), ".venv", "bin", "accelerate");
  return existsSync(venv) ? venv : "accelerate";
}

/** The model TRL starts from: the run's model folder, or the served model's hub name for a server engine. */
function trlModel(config: RunConfig, cwd: string): string {
  if (isServerEngineKind(config.engine.kind)) {
    if (config.engine.servedModelName === undefined) throw new UserError("train --backend trl: a server engine needs engine.servedModelName (the model TRL loads)");
    return config.engine.servedModelName;
  }
  return resolveModelPath(config.engine.model, cwd);
}

/** Builds the launch for a run; writes the TRL pairs export first when the run has none. */
export function trlLaunch(store: RunStore, config: RunConfig, opts: TrlOptions = {}): TrlLaunch {
  const t = config.training;
  const pairs = join(store.dir, "pairs.trl.jsonl");
  if (!existsSync(pairs)) exportPairs(store, "trl", pairs);
  const out = join(store.dir, TRL_MODEL_DIR);
  const progressLog = join(store.dir, "trl-progress.jsonl");
  if (opts.accelerateConfig !== undefined && !existsSync(opts.accelerateConfig)) throw new UserError(`--accelerate-config: file not found: ${opts.accelerateConfig}`);
  const script = join(packageRoot(), "trainer", "tokensqueeze_trainer", "train.py");
  const argv = [
    accelerateProgram(),
    "launch",
    ...(opts.accelerateConfig !== undefined ? ["--config_file", opts.accelerateConfig] : []),
    script,
    "--pairs", pairs,
    "--model", trlModel(config, opts.cwd ?? process.cwd()),
    "--out", out,
    "--objective", t.objective,
    "--beta", String(t.beta),
    "--lambda", String(t.lambda),
    "--eta", String(t.eta),
    "--lr", String(t.learningRate),
    "--global-batch", String(t.globalBatchSize),
    "--per-device-batch", String(Math.min(t.microBatchSize, t.globalBatchSize)),
    "--max-length", String(t.maxLength),
    "--epochs", String(t.epochs),
    ...(t.steps !== undefined ? ["--max-steps", String(t.steps)] : []),
    "--warmup-ratio", String(t.warmupRatio),
    "--lr-scheduler", t.decay === "constant" ? "constant_with_warmup" : t.decay,
    "--weight-decay", String(t.weightDecay),
    "--max-grad-norm", String(t.maxGradNorm),
    "--seed", String(store.seed),
    "--held-out-fraction", String(t.heldOutFraction),
    "--save-steps", String(t.checkpointEvery),
    "--json-log", progressLog,
  ];
  return { argv, command: argv.map(shellQuote).join(" "), pairs, out, progressLog };
}

export interface TrlResult {
  steps: number | null;
  lossFirst: number | null;
  lossLast: number | null;
  heldOutRewardAccuracy: number | null;
  model: string;
  seconds: number;
}

/** Runs the launch, streaming its JSON progress lines; the trainer's own messages pass through to stderr. */
export async function runTrl(launch: TrlLaunch, opts: { progress?: ProgressReporter; signal?: AbortSignal } = {}): Promise<TrlResult> {
  const t0 = performance.now();
  const child = spawn(launch.argv[0], launch.argv.slice(1), { stdio: ["ignore", "pipe", "inherit"], signal: opts.signal });
  let done: Record<string, unknown> | undefined;
  let buffer = "";
  child.stdout.on("data", (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith("{")) continue;
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (event.event === "log") {
        const num = (k: string): string => (typeof event[k] === "number" ? (event[k] as number).toFixed(4) : "?");
        opts.progress?.log(`trl: step ${String(event.step)}/${String(event.maxSteps)} loss ${num("loss")} (dpo ${num("dpo")}, sft ${num("sft")}) reward acc ${num("rewardAccuracy")}`);
      } else if (event.event === "done") done = event;
    }
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", (err) => reject(new UserError(`train --backend trl: cannot start ${launch.argv[0]}: ${err.message} (run \`npm run setup:python\`, or install trainer/requirements.txt)`)));
    child.on("close", (c) => resolve(c));
  });
  if (code !== 0 || done === undefined) throw new UserError(`train --backend trl: the trainer exited with code ${code ?? "?"}; the command was:\n${launch.command}`, 1);
  const num = (k: string): number | null => (typeof done?.[k] === "number" ? (done[k] as number) : null);
  return { steps: num("steps"), lossFirst: num("lossFirst"), lossLast: num("lossLast"), heldOutRewardAccuracy: num("heldOutRewardAccuracy"), model: launch.out, seconds: (performance.now() - t0) / 1000 };
}
