/**
 * The flags every run-configuration command shares, and the one way they become a configuration:
 * preset → --config file → --set key=value → flags (the flags win). A flag is only a spelling of a config key;
 * its default is the config schema's (never restated here), so `--help` and the run's recorded config agree.
 *
 *   addConfigFlags(cmd)                   --preset --config --set
 *   addRunFlags(cmd)                      those and --engine --model --base-url --served-model --concurrency --seed --data-dir
 *   addSamplingFlags(cmd, "sampling")     --samples --temperature --top-p --max-tokens --prompt, written to sampling.*
 *   resolveRunConfig(flags, { sampling: "sampling", overrides })
 */
import type { Command } from "commander";
import { EngineKinds, isServerEngineKind, ServerEngineKinds, type RunConfig } from "../config/schema.js";
import { UserError } from "../util/errors.js";
import { collect, parseNumber, positiveInt } from "./options.js";

export interface RunFlags {
  preset?: string;
  config?: string;
  set: string[];
  engine?: string;
  model?: string;
  /** Repeatable: several replicas of one server. */
  baseUrl?: string[];
  servedModel?: string;
  concurrency?: string;
  seed?: string;
  dataDir?: string;
}

export interface SamplingFlags {
  samples?: string;
  temperature?: string;
  topP?: string;
  maxTokens?: string;
  prompt?: string;
}

/** The config sections whose sampling settings the flags may write. */
export type SamplingSection = "sampling" | "evaluation";

/** --preset, --config and --set: the layers under a command's own flags. */
export function addConfigFlags(cmd: Command): Command {
  return cmd
    .option("--preset <name>", "start from a named config preset (paper-7b, paper-1.5b, demo, demo-quick, ci; see `config show --preset`)")
    .option("--config <file>", "YAML or JSON run configuration")
    .option("--set <key.path=value>", "override one config value, e.g. --set refinement.epsilon=0.01 (repeatable)", collect, []);
}

export function addRunFlags(cmd: Command): Command {
  return addConfigFlags(cmd)
    .option("--engine <kind>", `${EngineKinds.join(" | ")} (config engine.kind)`)
    .option("--model <folder>", "model folder of the embedded engine (config engine.model)")
    .option("--base-url <url>", `server of a ${ServerEngineKinds.join("/")} engine, e.g. http://localhost:8000; repeat for replicas (config engine.baseUrls)`, collectUrl)
    .option("--served-model <name>", "model name the server serves (config engine.servedModelName; default: its first model)")
    .option("--concurrency <n>", "work items in flight at once, so the engine can batch (config engine.concurrency)")
    .option("--seed <n>", "run seed: every random choice derives from it (config seed)")
    .option("--data-dir <dir>", "where named datasets are read from (default TOKENSQUEEZE_DATA, else ../shared/data, else the `data fetch` cache)");
}

const SAMPLES_FLAG: Record<SamplingSection, { key: string; help: string }> = {
  sampling: { key: "n", help: "responses per problem (config sampling.n; METHOD: 32, 16 on the built-in world)" },
  evaluation: { key: "samples", help: "samples per problem (config evaluation.samples; paper: 16)" },
};

export function addSamplingFlags(cmd: Command, section: SamplingSection): Command {
  return cmd
    .option("--samples <n>", SAMPLES_FLAG[section].help)
    .option("--temperature <t>", `sampling temperature (config ${section}.temperature)`)
    .option("--top-p <p>", `nucleus sampling (config ${section}.topP)`)
    .option("--max-tokens <n>", `max new tokens per response (config ${section}.maxTokens)`)
    .option("--prompt <preset>", `paper (the paper's <think>/<answer> template) | chat (the model's chat template) (config ${section}.prompt)`);
}

function collectUrl(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The engine flags as config overrides; each flag means one thing whatever the engine. */
export function engineOverrides(flags: RunFlags, baseKind: string): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const kind = flags.engine ?? baseKind;
  if (flags.engine !== undefined) o["engine.kind"] = kind;
  const servers = ServerEngineKinds.join("|");
  if (isServerEngineKind(kind)) {
    if (flags.model !== undefined) throw new UserError(`--model names a model folder of the embedded engine; a server (--engine ${kind}) takes --served-model NAME`);
    if (flags.baseUrl !== undefined) o["engine.baseUrls"] = flags.baseUrl;
    if (flags.servedModel !== undefined) o["engine.servedModelName"] = flags.servedModel;
  } else {
    if (flags.baseUrl !== undefined) throw new UserError(`--base-url applies to a server engine (--engine ${servers}), not --engine ${kind}`);
    if (flags.servedModel !== undefined) throw new UserError(`--served-model applies to a server engine (--engine ${servers}), not --engine ${kind}`);
    if (flags.model !== undefined) o["engine.model"] = flags.model;
  }
  if (flags.concurrency !== undefined) o["engine.concurrency"] = positiveInt("--concurrency", flags.concurrency);
  if (flags.seed !== undefined) o["seed"] = parseNumber("--seed", flags.seed, (x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff, "an integer 0 … 4294967295");
  if (flags.dataDir !== undefined) o["dataDir"] = flags.dataDir;
  return o;
}

/** The sampling flags as overrides of one config section. */
export function samplingOverrides(flags: SamplingFlags, section: SamplingSection): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (flags.samples !== undefined) o[`${section}.${SAMPLES_FLAG[section].key}`] = positiveInt("--samples", flags.samples);
  if (flags.temperature !== undefined) o[`${section}.temperature`] = parseNumber("--temperature", flags.temperature, (x) => x >= 0, "a number ≥ 0");
  if (flags.topP !== undefined) o[`${section}.topP`] = parseNumber("--top-p", flags.topP, (x) => x > 0 && x <= 1, "a number in (0, 1]");
  if (flags.maxTokens !== undefined) o[`${section}.maxTokens`] = positiveInt("--max-tokens", flags.maxTokens);
  if (flags.prompt !== undefined) {
    if (flags.prompt !== "paper" && flags.prompt !== "chat") throw new UserError(`--prompt: expected paper or chat, got "${flags.prompt}"`);
    o[`${section}.prompt`] = flags.prompt;
  }
  return o;
}

export interface ResolveRunConfigOptions {
  /** Which section the sampling flags write (when the command has them). */
  sampling?: SamplingSection;
  /** A configuration below the preset (e.g. the one a run recorded). */
  base?: { label: string; data: Record<string, unknown> };
  /** Further overrides computed from the base configuration (a command's own flags); applied last. */
  extra?: (base: RunConfig) => Record<string, unknown>;
}

/** preset → --config → --set → flags, validated once by the config schema. */
export async function resolveRunConfig(flags: RunFlags & SamplingFlags, opts: ResolveRunConfigOptions = {}): Promise<RunConfig> {
  const { resolveConfig, parseOverride } = await import("../config/index.js");
  const fromSet: Record<string, unknown> = {};
  for (const s of flags.set ?? []) {
    const { key, value } = parseOverride(s);
    fromSet[key] = value;
  }
  const base = resolveConfig({ base: opts.base, preset: flags.preset, file: flags.config, overrides: fromSet });
  const overrides = {
    ...fromSet,
    ...engineOverrides(flags, base.engine.kind),
    ...(opts.sampling ? samplingOverrides(flags, opts.sampling) : {}),
    ...(opts.extra ? opts.extra(base) : {}),
  };
  return resolveConfig({ base: opts.base, preset: flags.preset, file: flags.config, overrides });
}
