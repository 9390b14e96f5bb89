/**
 * The squeeze commands share one shape: run flags → configuration → `runSqueeze` (src/squeeze/pipeline.ts) for
 * some of its steps → a summary (text, or JSON with --json). This module is that shape; each command file under
 * commands/ states its steps and its own flags.
 *
 * Configuration: a command that starts a run (`sample`, `squeeze`) resolves preset → --config → --set → flags.
 * A command on an existing run (`select`, `refine`, `pairs`) starts from the configuration the run recorded, so it
 * needs no flags to continue; anything given on top is a change that the run refuses unless --force (then the
 * stages whose parameters changed archive their old records and start afresh).
 */
import type { Command } from "commander";
import type { RunConfig } from "../config/schema.js";
import type { SqueezeOptions, SqueezeResult, SqueezeStep } from "../squeeze/pipeline.js";
import type { SqueezeSummary } from "../squeeze/summary.js";
import type { PairFormat } from "../squeeze/pairs.js";
import { UserError } from "../util/errors.js";
import { addRunFlags, addSamplingFlags, resolveRunConfig, type RunFlags, type SamplingFlags } from "./run-flags.js";

export interface SqueezeFlags extends RunFlags, SamplingFlags {
  threads?: string;
  backend?: string;
  dryRun?: boolean;
  accelerateConfig?: string;
  out?: string;
  run?: string;
  limit?: string;
  force?: boolean;
  progress?: string;
  json?: boolean;
}

export interface SqueezeCommandSpec<F extends SqueezeFlags = SqueezeFlags> {
  steps: readonly SqueezeStep[];
  /** Starts a run (`--out`) rather than continuing one (`--run`). */
  creates: boolean;
  /** Sampling flags (`--samples`, `--temperature`, …) write config `sampling.*`. */
  samplingFlags?: boolean;
  /** The command's own flags as config overrides. */
  overrides?: (flags: F, base: RunConfig) => Record<string, unknown>;
  pairFormats?: (flags: F) => { formats?: PairFormat[]; out?: string };
  /**
   * The command runs rounds: its --rounds flag (undefined when not given: the config's `rounds`). More than one
   * runs every round through training (src/squeeze/rounds.ts).
   */
  rounds?: (flags: F) => number | undefined;
}

/** Adds the flags every squeeze command has (run flags, run directory, --force, --progress, --json). */
export function addSqueezeFlags(cmd: Command, spec: { creates: boolean; samplingFlags?: boolean }): Command {
  addRunFlags(cmd);
  if (spec.samplingFlags) addSamplingFlags(cmd, "sampling");
  if (spec.creates) {
    cmd.option("--out <dir>", "run directory; the same --out again resumes (default runs/squeeze-<time>)");
    cmd.option("--limit <n>", "only the first n training problems of each dataset (config datasets[].limit)");
  } else {
    cmd.requiredOption("--run <dir>", "the run directory (made by `sample` or `squeeze`)");
  }
  return cmd
    .option("--force", "adopt changed settings in an existing run (records made otherwise are archived, never deleted)")
    .option("--progress <mode>", "auto | bar | plain | json | none (progress goes to stderr)")
    .option("--json", "print the summary as JSON on stdout");
}

function defaultRunDir(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `runs/squeeze-${stamp}`;
}

export async function runSqueezeCommand<F extends SqueezeFlags>(flags: F, spec: SqueezeCommandSpec<F>): Promise<void> {
  const { RunStore, commandLine } = await import("../store/index.js");
  const { runSqueeze } = await import("../squeeze/pipeline.js");
  const { formatSqueezeSummary } = await import("../squeeze/summary.js");
  const { createProgress, progressModeFrom } = await import("../util/progress.js");
  const { positiveInt } = await import("./options.js");

  // Flags are checked before anything is opened.
  const pairs = spec.pairFormats ? spec.pairFormats(flags) : {};
  const dir = spec.creates ? (flags.out ?? defaultRunDir()) : (flags.run as string);
  let base: { label: string; data: Record<string, unknown> } | undefined;
  if (RunStore.isRun(dir)) {
    const store = RunStore.open(dir, { readonly: true });
    try {
      base = { label: `the config of run ${dir}`, data: store.config as Record<string, unknown> };
    } finally {
      store.close();
    }
  } else if (!spec.creates) {
    throw new UserError(`--run ${dir}: not a tokensqueeze run (start one with \`tokensqueeze sample --out ${dir}\` or \`tokensqueeze squeeze --out ${dir}\`)`);
  }
  // A run that exists is continued with its own configuration unless flags say otherwise.
  const config = await resolveRunConfig(flags, {
    ...(spec.samplingFlags ? { sampling: "sampling" as const } : {}),
    base,
    extra: (b) => {
      const o: Record<string, unknown> = spec.overrides ? spec.overrides(flags, b) : {};
      if (flags.limit !== undefined) {
        const limit = positiveInt("--limit", flags.limit);
        o["datasets"] = b.datasets.map((d) => ({ ...d, limit }));
      }
      return o;
    },
  });

  const mode = progressModeFrom({ progress: flags.progress, json: flags.json });
  const progress = createProgress({ mode });
  const argv = process.argv.slice(2);
  const resumeArgv = spec.creates && flags.out === undefined ? [...argv, "--out", dir] : argv;
  const common = {
    config,
    create: spec.creates,
    pairFormats: pairs.formats,
    pairsOut: pairs.out,
    ...(flags.threads !== undefined ? { threads: positiveInt("--threads", flags.threads) } : {}),
    ...(flags.backend === "trl" ? { trainBackend: "trl" as const, dryRun: flags.dryRun, accelerateConfig: flags.accelerateConfig } : {}),
    force: flags.force,
    argv: resumeArgv,
    progress,
    resumeCommand: commandLine(resumeArgv),
  };
  const onStart = (steps: readonly SqueezeStep[]): SqueezeOptions["onStart"] => ({ dir: d, engine, problems }) => {
    const what = engine ? `${engine.identity.name} (${engine.identity.engine})` : "no model needed";
    progress.log(`${steps.join(" → ")}: ${what}${problems !== null ? `, ${problems} training problems` : ""} → ${d}`);
  };

  const rounds = spec.rounds ? (spec.rounds(flags) ?? config.rounds) : 1;
  if (rounds > 1) {
    const { runSqueezeRounds } = await import("../squeeze/rounds.js");
    const { SqueezeSteps } = await import("../squeeze/pipeline.js");
    const done = await runSqueezeRounds({
      ...common,
      dir,
      rounds,
      onRound: ({ round, of, model }) => progress.log(`round ${round}/${of}: sampling from ${model}`),
      onStart: onStart(SqueezeSteps),
    });
    if (flags.json) {
      const perRound = done.map((r) => ({ round: r.round, sampledFrom: r.sampledFrom, model: r.model, ...squeezeJson(r.result) }));
      process.stdout.write(JSON.stringify({ rounds: perRound, model: done[done.length - 1].model }, null, 2) + "\n");
      return;
    }
    let text = "";
    for (const r of done) text += `== round ${r.round} of ${done.length} (sampled from ${r.sampledFrom})\n${squeezeText(r.result, flags, formatSqueezeSummary)}`;
    // Each round's own samples: how long the model's answers were when that round sampled them.
    const lengths = done.map((r) => `round ${r.round} ${r.result.summary.chosenTokensMean.toFixed(1)}`);
    text += `chosen answers' mean tokens (before refinement): ${lengths.join(", ")}\nlast model: ${done[done.length - 1].model}\n`;
    process.stdout.write(text);
    return;
  }

  const result = await runSqueeze({ ...common, dir, steps: spec.steps, onStart: onStart(spec.steps) });
  if (flags.json) {
    process.stdout.write(JSON.stringify(squeezeJson(result), null, 2) + "\n");
    return;
  }
  if (result.trl && flags.dryRun) {
    // The command alone, so that it can be copied to a GPU machine or piped.
    process.stdout.write(result.trl.command + "\n");
    return;
  }
  process.stdout.write(squeezeText(result, flags, formatSqueezeSummary));
}

function squeezeJson(result: SqueezeResult): Record<string, unknown> {
  const s = result.summary;
  return {
    ...(result.training ? { ...result.training, training: result.training } : {}),
    ...(result.trl ? { backend: "trl", command: result.trl.command, ...(result.trl.result ?? {}), trl: result.trl } : {}),
    run: result.dir,
    problems: s.problems,
    samples: s.samples,
    pairs: s.pairs,
    acceptanceRate: s.refinement.acceptanceRate,
    thinkingTokensBefore: s.thinkingTokensBefore,
    thinkingTokensAfter: s.thinkingTokensAfter,
    seconds: Math.round(result.seconds * 10) / 10,
    exports: result.exports,
    stages: result.stages,
    summary: s,
  };
}

function squeezeText(result: SqueezeResult, flags: SqueezeFlags, formatSummary: (s: SqueezeSummary) => string): string {
  let text = formatSummary(result.summary);
  if (result.trl?.result) {
    const r = result.trl.result;
    text += `training (trl): ${r.steps ?? "?"} steps; loss ${r.lossFirst ?? "n/a"} → ${r.lossLast ?? "n/a"}; held-out reward accuracy ${r.heldOutRewardAccuracy ?? "n/a"}\nmodel: ${r.model}\n`;
  }
  const tr = result.training;
  if (tr) {
    const f = (x: number | null, d = 4): string => (x === null ? "n/a" : x.toFixed(d));
    text +=
      `training (${tr.backend}, ${tr.objective}): ${tr.steps} steps of ${tr.globalBatchSize} pairs on ${tr.pairs} pairs; loss ${f(tr.lossFirst)} → ${f(tr.lossLast)}\n` +
      `held out: ${tr.heldOutPairs} pairs, loss ${f(tr.heldOutLossBefore)} → ${f(tr.heldOutLossAfter)}, implicit-reward accuracy ${tr.heldOutRewardAccuracy === null ? "n/a" : (100 * tr.heldOutRewardAccuracy).toFixed(1) + "%"}\n` +
      `model: ${tr.model}\n`;
  }
  for (const e of result.exports) text += `pairs (${e.format}): ${e.rows} rows → ${e.file}${e.datasetInfoFile ? ` (+ ${e.datasetInfoFile})` : ""}\n`;
  text += `${result.seconds.toFixed(1)} s\n`;
  return text;
}
