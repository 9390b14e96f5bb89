/**
 * Named datasets. The benchmarks are registered here; other modules add their own, e.g. the built-in world
 * generator (src/world) registers `world-train` and `world-test`:
 *
 *   registerDataset("world-train", { description: "…", usesDataDir: false, load: async () => ({ problems, … }) });
 *
 * A module that registers datasets must be imported before `loadDataset` looks the name up.
 */
import { UserError } from "../util/errors.js";
import { builtinDatasets } from "./builtin.js";
import type { DatasetLoader } from "./types.js";

const registry = new Map<string, DatasetLoader>(Object.entries(builtinDatasets));

/** Adds (or, with `replace`, replaces) a named dataset. Names are case-sensitive and may not contain "/". */
export function registerDataset(name: string, loader: DatasetLoader, opts: { replace?: boolean } = {}): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`bad dataset name "${name}": use letters, digits, ".", "_" and "-"`);
  if (registry.has(name) && !opts.replace) throw new Error(`dataset "${name}" is already registered`);
  registry.set(name, loader);
}

export function getDatasetLoader(name: string): DatasetLoader | undefined {
  return registry.get(name);
}

export function datasetNames(): string[] {
  return [...registry.keys()].sort();
}

export function requireDatasetLoader(name: string): DatasetLoader {
  const loader = registry.get(name);
  if (!loader) throw new UserError(`unknown dataset "${name}" (named datasets: ${datasetNames().join(", ")}; or give a file path or hf://datasets/<org>/<name>/<file>)`);
  return loader;
}
