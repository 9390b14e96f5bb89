/**
 * Opening an engine from a command line or a run configuration. Every command that needs a model calls
 * `openEngine` and gets an `Engine`; it never imports an engine module itself.
 *
 * Opening checks that the engine can actually serve before any work starts: a missing model folder, an
 * unreachable server or an engine this build does not have fails here with a UserError (exit 2) that names
 * the problem. Engine modules are imported lazily so `--help` and light commands never load tfjs.
 *
 * Adding an engine is one entry in `openers`; the server engines (vllm, sglang, llama-server, ollama,
 * openai) share one opener over src/engines/http/.
 */
import { existsSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { EngineKinds, EngineSchema, isServerEngineKind, type EngineConfig, type EngineKind } from "../config/schema.js";
import { UserError } from "../util/errors.js";
import { packageRoot } from "../util/version.js";
import { EngineUnavailableError, type Engine } from "./engine.js";

/** What opening an engine needs: the `engine` section of a run configuration (concurrency is the caller's business). */
export type EngineSpec = Pick<EngineConfig, "kind" | "model"> &
  Partial<Pick<EngineConfig, "baseUrls" | "servedModelName" | "apiKeyEnv" | "timeoutMs" | "retries" | "requestsInFlight">>;

export interface OpenEngineOptions {
  /** Relative model paths resolve against this (default: the current directory, then the package root). */
  cwd?: string;
  /** How long a server may take to answer the reachability check (ms). */
  probeTimeoutMs?: number;
  /**
   * Embedded engine: worker threads (0 runs the model on the calling thread, best for a handful of sequences);
   * default one per core, at most 8. llamacpp: CPU threads (0 or unset: one per core). Server engines ignore it.
   */
  workers?: number;
}

type EngineOpener = (spec: EngineSpec, opts: ResolvedOpenOptions) => Promise<Engine>;
type ResolvedOpenOptions = Required<Omit<OpenEngineOptions, "workers">> & Pick<OpenEngineOptions, "workers">;

const openers: Record<EngineKind, EngineOpener> = {
  embedded: openEmbedded,
  vllm: openServer,
  sglang: openServer,
  "llama-server": openServer,
  ollama: openServer,
  openai: openServer,
  llamacpp: openLlamaCpp,
};

/** Opens (and checks) the engine a spec names. Throws UserError with a clear message when it cannot. */
export async function openEngine(spec: EngineSpec, opts: OpenEngineOptions = {}): Promise<Engine> {
  const opener = (openers as Record<string, EngineOpener | undefined>)[spec.kind];
  if (!opener) throw new UserError(`unknown engine "${spec.kind}" (engines: ${EngineKinds.join(", ")})`);
  const full: ResolvedOpenOptions = { cwd: opts.cwd ?? process.cwd(), probeTimeoutMs: opts.probeTimeoutMs ?? 5000, workers: opts.workers };
  try {
    return await opener(spec, full);
  } catch (err) {
    if (err instanceof EngineUnavailableError) throw new UserError(`engine ${spec.kind}: ${err.message}`);
    throw err;
  }
}

/**
 * A model path as the user meant it: absolute, or relative to the current directory, or (for the built-in
 * model's default `models/world-base`) relative to the installed package.
 */
export function resolveModelPath(model: string, cwd: string): string {
  if (isAbsolute(model)) return model;
  const here = resolve(cwd, model);
  if (existsSync(here)) return here;
  const inPackage = join(packageRoot(), model);
  return existsSync(inPackage) ? inPackage : here;
}

async function openEmbedded(spec: EngineSpec, opts: ResolvedOpenOptions): Promise<Engine> {
  const folder = resolveModelPath(spec.model, opts.cwd);
  if (!existsSync(folder)) throw new UserError(`model folder not found: ${spec.model} (looked at ${folder})`);
  if (!statSync(folder).isDirectory()) throw new UserError(`--model ${spec.model}: not a folder (the embedded engine reads a Hugging Face model folder)`);
  for (const file of ["config.json", "model.safetensors", "tokenizer.json"]) {
    if (!existsSync(join(folder, file))) throw new UserError(`model folder ${folder}: ${file} is missing (expected a Hugging Face model folder)`);
  }
  const { EmbeddedEngine } = await import("./embedded/engine.js");
  return EmbeddedEngine.load(folder, { workers: opts.workers });
}

/**
 * A model server (src/engines/http/): every base URL is checked, the served model learned; the defaults of
 * timeouts, retries and requests in flight are the config schema's.
 */
async function openServer(spec: EngineSpec, opts: ResolvedOpenOptions): Promise<Engine> {
  if (!isServerEngineKind(spec.kind)) throw new Error(`openServer: ${spec.kind} is not a server engine`);
  if (spec.baseUrls === undefined || spec.baseUrls.length === 0) {
    throw new UserError(`engine ${spec.kind} needs the server's address: --base-url URL (config engine.baseUrls)`);
  }
  const apiKey = spec.apiKeyEnv !== undefined ? process.env[spec.apiKeyEnv] : undefined;
  if (spec.apiKeyEnv !== undefined && apiKey === undefined) {
    throw new UserError(`engine ${spec.kind}: the environment variable ${spec.apiKeyEnv} (engine.apiKeyEnv) is not set`);
  }
  const defaults = EngineSchema.parse({ kind: spec.kind, baseUrls: spec.baseUrls });
  const { openHttpEngine } = await import("./http/open.js");
  return openHttpEngine({
    kind: spec.kind,
    baseUrls: spec.baseUrls,
    servedModelName: spec.servedModelName,
    apiKey,
    timeoutMs: spec.timeoutMs ?? defaults.timeoutMs,
    retries: spec.retries ?? defaults.retries,
    maxInFlight: spec.requestsInFlight ?? defaults.requestsInFlight,
    probeTimeoutMs: opts.probeTimeoutMs,
  });
}

/**
 * A GGUF file in llama.cpp (src/engines/llamacpp/). `workers` ≥ 1 is its CPU thread count; 0 (the embedded
 * engine's "on the calling thread", which `generate` picks for a few samples) means the default, every core.
 */
async function openLlamaCpp(spec: EngineSpec, opts: ResolvedOpenOptions): Promise<Engine> {
  const path = resolveModelPath(spec.model, opts.cwd);
  if (!existsSync(path)) throw new UserError(`GGUF model not found: ${spec.model} (looked at ${path})`);
  const { LlamaCppEngine } = await import("./llamacpp/engine.js");
  return LlamaCppEngine.open(path, { threads: opts.workers !== undefined && opts.workers > 0 ? opts.workers : undefined });
}

/**
 * The configuration as a run records it: a model path made absolute, so that resuming from another directory
 * matches (a server engine has no path).
 */
export function withResolvedModelPath<C extends { engine: Pick<EngineConfig, "kind" | "model"> }>(config: C, cwd: string): C {
  if (isServerEngineKind(config.engine.kind)) return config;
  return { ...config, engine: { ...config.engine, model: resolveModelPath(config.engine.model, cwd) } };
}
