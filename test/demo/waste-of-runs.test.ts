/**
 * The waste analysis of stored evaluation runs: read from real run stores, counted with the embedded engine's
 * tokenizer, and left out (never fatal) where it cannot apply — another benchmark, another model's prose, or an
 * engine that cannot tokenize (the fault is injected into the real engine; Ollama is such an engine).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wasteOfRuns } from "../../src/demo/waste-of-runs.js";
import type { Engine } from "../../src/engines/engine.js";
import { openEngine } from "../../src/engines/factory.js";
import { evalSamplesTable } from "../../src/eval/evaluate.js";
import { RunStore } from "../../src/store/index.js";
import { generateProblem } from "../../src/world/expression.js";
import { generateTrace } from "../../src/world/traces.js";
import { tempDir } from "../helpers.js";

const WORLD_MODEL = join(import.meta.dirname, "..", "..", "models", "world-base");

function storeRun(texts: string[], benchmark = "world-test"): string {
  const dir = join(tempDir("ts-waste-"), "eval");
  const store = RunStore.create(dir, { config: { seed: 1, evaluation: { maxTokens: 512 } }, model: { name: "world-base", engine: "embedded" } });
  try {
    store.table(evalSamplesTable).putMany(
      texts.map((text, i) => ({ benchmark, problemId: `p${i}`, sampleIndex: 0, text, tokens: text.length, finishReason: "stop" as const, correct: true, level: 1 + (i % 5) })),
    );
  } finally {
    store.close();
  }
  return dir;
}

const traces = Array.from({ length: 20 }, (_, i) => generateTrace(generateProblem("train", 1 + (i % 5), 3, Math.floor(i / 5)), 3).response);

describe("wasteOfRuns", () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await openEngine({ kind: "embedded", model: WORLD_MODEL }, { workers: 0 });
  });
  afterAll(async () => {
    await engine?.close();
  });

  it("profiles each world run in order, counting with the engine's tokenizer", async () => {
    const runs = [storeRun(traces), storeRun(traces.slice(0, 10))];
    const p = await wasteOfRuns(runs, "world-test", engine);
    expect(p).toHaveLength(2);
    expect(p![0].answers).toBe(20);
    expect(p![1].answers).toBe(10);
    expect(p![0].recognised).toBe(100);
    expect(p![0].wording).toBeGreaterThan(0);
  });

  it("leaves the analysis out for another benchmark, for answers that are not the world's steps, and when the engine cannot tokenize", async () => {
    expect(await wasteOfRuns([storeRun(traces, "math500")], "math500", engine)).toBeUndefined();
    const prose = traces.map(() => "<think>\nI think about it in my own words.\n\nIt comes to seven.\n</think>\n\nThe answer is \\boxed{7}.");
    expect(await wasteOfRuns([storeRun(traces), storeRun(prose)], "world-test", engine)).toBeUndefined();
    const logged: string[] = [];
    const cannot = Object.assign(Object.create(engine) as Engine, {
      tokenize: async () => {
        throw new Error("this engine has no tokenize endpoint");
      },
    });
    expect(await wasteOfRuns([storeRun(traces)], "world-test", cannot, (m) => logged.push(m))).toBeUndefined();
    expect(logged).toEqual(["no world analysis of where the tokens went: this engine has no tokenize endpoint"]);
  });
});
