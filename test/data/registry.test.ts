/**
 * The dataset registry: every built-in dataset is registered in one place (registerBuiltinDatasets, called by the
 * registry itself), and a dataset has one name: aliases resolve to it before it keys anything.
 */
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config/index.js";
import {
  canonicalDatasetName,
  datasetAliases,
  datasetNames,
  getDatasetLoader,
  loadDataset,
  registerBuiltinDatasets,
  registerDataset,
} from "../../src/data/index.js";
import { loadBenchmarks } from "../../src/eval/run.js";
import { runCli } from "../helpers.js";

describe("dataset registry", () => {
  it("knows the world's datasets without any module being imported for its side effect", () => {
    // Only src/data is imported here (and src/eval/run.js, which no longer registers anything).
    expect(getDatasetLoader("world-train")).toBeDefined();
    expect(getDatasetLoader("world-test")).toBeDefined();
    expect(datasetNames()).toEqual(expect.arrayContaining(["math500", "gsm8k", "world-train", "world-test"]));
    registerBuiltinDatasets(); // idempotent
    expect(datasetNames().filter((n) => n === "world-test")).toHaveLength(1);
  });

  it("gives the world's held-out set one name; `world` and `world-heldout` are aliases of it", async () => {
    expect(datasetAliases()).toEqual({ world: "world-test", "world-heldout": "world-test" });
    expect(datasetNames()).not.toContain("world");
    expect(datasetNames()).not.toContain("world-heldout");
    expect(canonicalDatasetName("world")).toBe("world-test");
    expect(canonicalDatasetName("world-heldout")).toBe("world-test");
    expect(canonicalDatasetName("math500")).toBe("math500");
    expect(canonicalDatasetName("data/some-file.jsonl")).toBe("data/some-file.jsonl");
    const viaAlias = await loadDataset("world", { limit: 5 });
    const direct = await loadDataset("world-test", { limit: 5 });
    expect(viaAlias.name).toBe("world-test");
    expect(viaAlias.problems).toEqual(direct.problems);
    expect(() => registerDataset("world", getDatasetLoader("world-test")!)).toThrow(/alias/);
  });

  it("keys an evaluation benchmark by the one name, so two spellings of it are one benchmark", async () => {
    const one = await loadBenchmarks(resolveConfig({ overrides: { "evaluation.benchmarks": [{ name: "world", limit: 2 }] } }));
    expect(one.map((b) => b.name)).toEqual(["world-test"]);
    await expect(loadBenchmarks(resolveConfig({ overrides: { "evaluation.benchmarks": ["world", "world-test"] } }))).rejects.toThrow(
      'benchmark "world-test" is listed twice (as "world" and "world-test", two names of one dataset)',
    );
  });

  it("`data list` shows the aliases beside the one name", () => {
    const r = runCli(["data", "list", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { datasets: Array<{ name: string; aliases: string[] }> }).datasets;
    expect(rows.find((d) => d.name === "world-test")?.aliases).toEqual(["world", "world-heldout"]);
    expect(rows.some((d) => d.name === "world")).toBe(false);
  });
});
