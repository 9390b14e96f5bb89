/**
 * Named datasets. Every dataset that ships with tokensqueeze is registered in one place,
 * `registerBuiltinDatasets()` below: the benchmarks read from the data directory (./builtin.ts) and the built-in
 * world's generated problems (src/world/dataset.ts). The registry calls it itself on its first lookup, so no
 * caller has to import a module for its side effect, and a dataset is never missing because of which command
 * (or script, or test) happened to run. Other code may add datasets with `registerDataset`:
 *
 *   registerDataset("my-set", { description: "…", usesDataDir: false, load: async () => ({ problems, … }) });
 *
 * A dataset has one name. An alias (`world` → `world-test`) is another spelling of it that is turned into the
 * canonical name before the name is used for anything else: a run keys its records (and derives its seeds) by
 * the canonical name, so `--bench world` and `--bench world-test` are the same benchmark with the same samples.
 */
import { UserError } from "../util/errors.js";
import { worldDatasetAliases, worldDatasets } from "../world/dataset.js";
import { builtinDatasets } from "./builtin.js";
import type { DatasetLoader } from "./types.js";

const registry = new Map<string, DatasetLoader>();
const aliases = new Map<string, string>();
let builtinsRegistered = false;

/** Registers the datasets that ship with tokensqueeze (once; later calls do nothing). */
export function registerBuiltinDatasets(): void {
  if (builtinsRegistered) return;
  builtinsRegistered = true;
  for (const [name, loader] of Object.entries(builtinDatasets)) registerDataset(name, loader);
  for (const [name, loader] of Object.entries(worldDatasets)) registerDataset(name, loader);
  for (const [alias, name] of Object.entries(worldDatasetAliases)) registerDatasetAlias(alias, name);
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`bad dataset name "${name}": use letters, digits, ".", "_" and "-"`);
}

/** Adds (or, with `replace`, replaces) a named dataset. Names are case-sensitive and may not contain "/". */
export function registerDataset(name: string, loader: DatasetLoader, opts: { replace?: boolean } = {}): void {
  registerBuiltinDatasets();
  checkName(name);
  if (aliases.has(name)) throw new Error(`dataset name "${name}" is an alias of "${aliases.get(name)}"`);
  if (registry.has(name) && !opts.replace) throw new Error(`dataset "${name}" is already registered`);
  registry.set(name, loader);
}

/** Makes `alias` another spelling of the registered dataset `name`. */
export function registerDatasetAlias(alias: string, name: string): void {
  registerBuiltinDatasets();
  checkName(alias);
  if (!registry.has(name)) throw new Error(`cannot alias "${alias}" to "${name}": no such dataset`);
  if (registry.has(alias)) throw new Error(`dataset "${alias}" is already registered under that name`);
  const existing = aliases.get(alias);
  if (existing !== undefined && existing !== name) throw new Error(`"${alias}" is already an alias of "${existing}"`);
  aliases.set(alias, name);
}

/** The one name of a dataset reference: an alias becomes the name it stands for; anything else is unchanged. */
export function canonicalDatasetName(ref: string): string {
  registerBuiltinDatasets();
  return aliases.get(ref) ?? ref;
}

/** The loader of a named dataset (or of an alias of one). */
export function getDatasetLoader(name: string): DatasetLoader | undefined {
  registerBuiltinDatasets();
  return registry.get(aliases.get(name) ?? name);
}

/** Canonical names, sorted (aliases are listed by `datasetAliases`). */
export function datasetNames(): string[] {
  registerBuiltinDatasets();
  return [...registry.keys()].sort();
}

/** Alias → canonical name. */
export function datasetAliases(): Record<string, string> {
  registerBuiltinDatasets();
  return Object.fromEntries([...aliases.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

export function requireDatasetLoader(name: string): DatasetLoader {
  const loader = getDatasetLoader(name);
  if (!loader) throw new UserError(`unknown dataset "${name}" (named datasets: ${datasetNames().join(", ")}; or give a file path or hf://datasets/<org>/<name>/<file>)`);
  return loader;
}
