import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { ConfigError, presetNames, resolveConfig, RunConfigSchema } from "../../src/config/index.js";
import { runCli, tempDir } from "../helpers.js";

/** Every value METHOD.md states, written out independently of the schema so a changed default fails here. */
const methodDefaults = {
  engine: { kind: "embedded", model: "models/world-base", concurrency: 4, requestsInFlight: 256, timeoutMs: 900_000, retries: 8 },
  datasets: [{ name: "math-train" }],
  sampling: { n: 32, temperature: 0.9, topP: 1.0, maxTokens: 32768, prompt: "paper" },
  selection: { variant: "q-dyn", alpha: 0.2, q0: 0.1, maxPairs: 64, extraNegRatio: 1.5 },
  refinement: {
    enabled: true,
    candidates: 64,
    temperature: 1.0,
    epsilon: 0.005,
    window: 512,
    lengthCapFactor: 2,
    reduction: "sum",
    estimator: "auto",
    topK: 20,
    shortcuts: true,
    scoreBatch: 8,
  },
  training: {
    objective: "dpo-l+sft",
    beta: 0.1,
    lambda: 1,
    eta: 0.5,
    learningRate: 5e-6,
    globalBatchSize: 128,
    microBatchSize: 4,
    maxLength: 9000,
    epochs: 1,
    warmupRatio: 0.1,
    decay: "cosine",
    minLrRatio: 0,
    weightDecay: 0,
    maxGradNorm: 1,
    checkpointEvery: 50,
    heldOutFraction: 0.1,
  },
  evaluation: {
    benchmarks: [{ name: "math500" }, { name: "aime24" }, { name: "aime25" }],
    samples: 16,
    temperature: 0.6,
    topP: 0.95,
    maxTokens: 32768,
    prompt: "paper",
    aucBudget: 32768,
  },
  rounds: 1,
  seed: 42,
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("run configuration defaults", () => {
  it("are METHOD.md's values (the paper's numbers and every [decision])", () => {
    expect(resolveConfig({})).toEqual(methodDefaults);
    expect(RunConfigSchema.parse({})).toEqual(methodDefaults);
  });

  it("the AUC budget follows evaluation.maxTokens unless set", () => {
    expect(resolveConfig({ overrides: ["evaluation.maxTokens=4096"] }).evaluation.aucBudget).toBe(4096);
    const both = resolveConfig({ overrides: ["evaluation.maxTokens=4096", "evaluation.aucBudget=2048"] });
    expect(both.evaluation.aucBudget).toBe(2048);
  });
});

describe("presets", () => {
  it("are paper-7b, paper-1.5b, demo, demo-quick and ci, and each resolves", () => {
    expect(presetNames).toEqual(["paper-7b", "paper-1.5b", "demo", "demo-quick", "ci"]);
    for (const name of presetNames) expect(resolveConfig({ preset: name }).preset).toBe(name);
  });

  it("paper presets keep every paper value and point at a vLLM server", () => {
    const c = resolveConfig({ preset: "paper-7b" });
    expect(c.engine).toMatchObject({
      kind: "vllm",
      baseUrls: ["http://localhost:8000"],
      servedModelName: "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
      concurrency: 64,
    });
    const { preset: _p, engine: _e, ...rest } = c;
    const { engine: _e2, ...paper } = methodDefaults;
    expect(rest).toEqual(paper);
    expect(resolveConfig({ preset: "paper-1.5b" }).engine.servedModelName).toBe("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B");
  });

  it("demo uses the embedded built-in model with N = 16; ci is smaller still", () => {
    const demo = resolveConfig({ preset: "demo" });
    expect(demo.engine.kind).toBe("embedded");
    expect(demo.engine.model).toBe("models/world-base");
    expect(demo.sampling.n).toBe(16);
    expect(demo.selection).toEqual(methodDefaults.selection);
    const ci = resolveConfig({ preset: "ci" });
    expect(ci.sampling.n).toBeLessThan(demo.sampling.n);
    expect(ci.sampling.maxTokens).toBeLessThan(demo.sampling.maxTokens);
    expect(ci.datasets[0].limit).toBeLessThan(demo.datasets[0].limit!);
    expect(ci.evaluation.aucBudget).toBe(ci.evaluation.maxTokens);
  });

  it("an unknown preset is an error that lists the presets", () => {
    expect(() => resolveConfig({ preset: "paper-70b" })).toThrow(/unknown preset "paper-70b".*paper-7b, paper-1\.5b, demo, demo-quick, ci/);
  });
});

describe("merging preset → file → --set", () => {
  it("a file overrides the preset and --set overrides the file", () => {
    const dir = tempDir();
    const file = join(dir, "run.yaml");
    writeFileSync(file, "selection:\n  alpha: 0.3\n  variant: q-fix\nsampling:\n  n: 8\n");
    const c = resolveConfig({ preset: "demo", file, overrides: ["selection.alpha=0.25", "seed=7"] });
    expect(c.selection.alpha).toBe(0.25);
    expect(c.selection.variant).toBe("q-fix");
    expect(c.sampling.n).toBe(8);
    expect(c.sampling.maxTokens).toBe(512); // from the preset
    expect(c.refinement.lengthCapFactor).toBe(2); // from the defaults
    expect(c.seed).toBe(7);
  });

  it("reads JSON files, and a file may name its preset", () => {
    const dir = tempDir();
    const file = join(dir, "run.json");
    writeFileSync(file, JSON.stringify({ preset: "paper-1.5b", training: { objective: "dpo" } }));
    const c = resolveConfig({ file });
    expect(c.preset).toBe("paper-1.5b");
    expect(c.engine.kind).toBe("vllm");
    expect(c.training.objective).toBe("dpo");
    expect(resolveConfig({ file, preset: "ci" }).preset).toBe("ci");
  });

  it("--set indexes into lists (including the default list), expands bare dataset names, and parses values as YAML", () => {
    expect(resolveConfig({ overrides: ["datasets.0.limit=5"] }).datasets).toEqual([{ name: "math-train", limit: 5 }]);
    const c = resolveConfig({ overrides: ["datasets=[gsm8k-train, {name: math-train, levels: [4, 5]}]", "evaluation.benchmarks.1.limit=10"] });
    expect(c.datasets).toEqual([{ name: "gsm8k-train" }, { name: "math-train", levels: [4, 5] }]);
    expect(c.evaluation.benchmarks[1]).toEqual({ name: "aime24", limit: 10 });
    expect(resolveConfig({ overrides: ["refinement.enabled=false", "training.learningRate=1e-5"] })).toMatchObject({
      refinement: { enabled: false },
      training: { learningRate: 1e-5 },
    });
    expect(resolveConfig({ overrides: { "selection.alpha": 0.5 } }).selection.alpha).toBe(0.5);
  });
});

describe("configuration errors name the key path and where the value came from", () => {
  it("wrong type in a file: file, line and key path", () => {
    const dir = tempDir();
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "seed: 3\nselection:\n  alpha: high\n");
    const err = configError(() => resolveConfig({ file }));
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(`${file}:3: selection.alpha: expected number, got string "high"`);
  });

  it("unknown keys, with a suggestion, at any depth", () => {
    const dir = tempDir();
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "selection:\n  alpah: 0.3\nrefinment:\n  epsilon: 0.01\n");
    const err = configError(() => resolveConfig({ file }));
    expect(err.issues.map((i) => `${i.path}@${i.line}`).sort()).toEqual(["refinment@3", "selection.alpah@2"]);
    expect(err.message).toMatch(/selection\.alpah: unknown key \(did you mean "alpha"\?\)/);
    expect(err.message).toMatch(/refinment: unknown key \(did you mean "refinement"\?\)/);
  });

  it("errors from --set name the argument", () => {
    expect(() => resolveConfig({ overrides: ["sampling.n=many"] })).toThrow(/^--set sampling\.n=many: sampling\.n: expected number, got string "many"$/);
    expect(() => resolveConfig({ overrides: ["sampling.n=2.5"] })).toThrow(/sampling\.n: expected an integer/);
    expect(() => resolveConfig({ overrides: ["selection.variant=longest"] })).toThrow(/selection\.variant: expected one of "shortest", "q-fix", "q-dyn", "q-dyn-extra-neg", got string "longest"/);
    expect(() => resolveConfig({ overrides: ["selection.alpha=-1"] })).toThrow(/selection\.alpha: expected a number >= 0, got number -1/);
    expect(() => resolveConfig({ overrides: ["engine.kind=tgi"] })).toThrow(/engine\.kind: expected one of "embedded", "vllm", "sglang", "llama-server", "ollama", "openai", "llamacpp"/);
    expect(() => resolveConfig({ overrides: ["datasets.0.limt=3"] })).toThrow(/datasets\.0\.limt: unknown key/);
    expect(() => resolveConfig({ overrides: ["noequals"] })).toThrow(/expected key\.path=value/);
  });

  it("malformed and missing files", () => {
    const dir = tempDir();
    const file = join(dir, "broken.yaml");
    writeFileSync(file, "selection:\n  alpha: [0.2\nseed: 1\n");
    expect(() => resolveConfig({ file })).toThrow(new RegExp(`^${file.replace(/[.]/g, "\\.")}:3: malformed YAML at column 1: `));
    // A JSON config file's syntax error reads as invalid JSON does everywhere: file, line, field, column.
    const json = join(dir, "broken.json");
    writeFileSync(json, '{"seed": 1,\n "selection": {"alpha": }\n}\n');
    expect(() => resolveConfig({ file: json })).toThrow(`${json}:2: field "selection": malformed JSON at column 25: expected a value, got "}"`);
    expect(() => resolveConfig({ file: join(dir, "nope.yaml") })).toThrow(/config file not found/);
    const list = join(dir, "list.yaml");
    writeFileSync(list, "- a\n- b\n");
    expect(() => resolveConfig({ file: list })).toThrow(/expected a mapping of keys to values, got array/);
  });
});

describe("tokensqueeze config", () => {
  it("show --json prints the resolved configuration", () => {
    const r = runCli(["config", "show", "--preset", "demo", "--set", "selection.alpha=0.3", "--set", "rounds=2", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const shown = JSON.parse(r.stdout) as unknown;
    expect(shown).toEqual(resolveConfig({ preset: "demo", overrides: ["selection.alpha=0.3", "rounds=2"] }));
  });

  it("show without --json prints YAML that reads back to the same configuration", () => {
    const dir = tempDir();
    const file = join(dir, "run.yml");
    writeFileSync(file, "preset: ci\ntraining:\n  beta: 0.2\n");
    const r = runCli(["config", "show", "--config", file]);
    expect(r.status, r.stderr).toBe(0);
    expect(parseYaml(r.stdout)).toEqual(resolveConfig({ file }));
  });

  it("exits 2 and names file, line and key path on bad configuration", () => {
    const dir = tempDir();
    const file = join(dir, "bad.json");
    writeFileSync(file, '{\n  "selection": {\n    "alpha": "0.2"\n  },\n  "extra": 1\n}\n');
    const r = runCli(["config", "show", "--config", file, "--json"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${file}:3: selection.alpha: expected number, got string "0.2"`);
    expect(r.stderr).toContain(`${file}:5: extra: unknown key`);
    const s = runCli(["config", "show", "--set", "training.beta=abc"]);
    expect(s.status).toBe(2);
    expect(s.stderr).toContain(`training.beta: expected number, got string "abc"`);
  });

  it("presets lists the five presets", () => {
    const r = runCli(["config", "presets", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { name: string }[]).map((p) => p.name)).toEqual(["paper-7b", "paper-1.5b", "demo", "demo-quick", "ci"]);
  });
});
