/**
 * The evaluation driver with a scripted engine: a deterministic Engine whose completions are right or wrong by
 * a seeded coin, so grading, storage and metrics can be checked against known answers (the tiny fixture
 * model is ~never right). The store, grader and datasets are the real ones.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.js";
import type { Problem } from "../../src/data/problem.js";
import type {
  ChatMessage,
  Engine,
  EngineCapabilities,
  GenerateRequest,
  GenerateResult,
  ScoreResult,
} from "../../src/engines/engine.js";
import { evaluate, evalSamplesTable, type EvalSettings } from "../../src/eval/evaluate.js";
import { benchmarkMetrics, type SampleRecord } from "../../src/eval/metrics.js";
import { readEvalRun } from "../../src/eval/results.js";
import { RunStore, StageParamsChangedError } from "../../src/store/index.js";
import { deriveSeed, Rng } from "../../src/util/rng.js";
import { sharedData, tempDir } from "../helpers.js";

/** What the scripted engine decided for one completion. */
interface Script {
  correct: boolean;
  tokens: number;
  finishReason: "stop" | "length";
}

class ScriptedEngine implements Engine {
  readonly identity = { name: "scripted", engine: "scripted" };
  readonly requests: GenerateRequest[] = [];
  constructor(private readonly answers: Map<string, string>) {}

  static script(seed: number, i: number, maxTokens: number): Script {
    const rng = new Rng(deriveSeed(seed, i));
    const correct = rng.next() < 0.6;
    const tokens = rng.int(1, maxTokens + 20);
    return tokens >= maxTokens ? { correct: false, tokens: maxTokens, finishReason: "length" } : { correct, tokens, finishReason: "stop" };
  }

  async capabilities(): Promise<EngineCapabilities> {
    return { fullDistributions: false, promptLogprobs: false, maxTopK: 0, prefixReuse: false, maxContextTokens: 1 << 20, chatTemplate: false };
  }
  async tokenize(text: string): Promise<number[]> {
    return Array.from(text, (c) => c.charCodeAt(0));
  }
  async detokenize(ids: readonly number[]): Promise<string> {
    return String.fromCharCode(...ids);
  }
  async applyChatTemplate(_messages: readonly ChatMessage[]): Promise<string> {
    throw new Error("no chat template");
  }
  async generate(request: GenerateRequest): Promise<GenerateResult> {
    this.requests.push(request);
    const prompt = request.prompt as string;
    const answer = [...this.answers].find(([q]) => prompt.includes(q))?.[1];
    if (answer === undefined) throw new Error("scripted engine: unknown question");
    // Yield so concurrent requests interleave differently at different concurrency.
    await new Promise((r) => setTimeout(r, (request.seed % 7) + 1));
    const completions = Array.from({ length: request.n }, (_, i) => {
      const s = ScriptedEngine.script(request.seed, i, request.maxTokens);
      const text =
        s.finishReason === "length"
          ? "Let me think about this for a long while"
          : `I work it out.\n\nSo it is this.\n</think>\n<answer>The result is \\boxed{${s.correct ? answer : `${answer}9`}}`;
      return { index: i, text, tokenIds: Array.from({ length: s.tokens }, () => 7), finishReason: s.finishReason } as const;
    });
    return { completions: completions.map((c) => ({ ...c })), promptTokens: prompt.length };
  }
  async score(): Promise<ScoreResult> {
    throw new Error("not used");
  }
  async close(): Promise<void> {}
}

const settings: EvalSettings = { samples: 4, temperature: 0.6, topP: 0.95, maxTokens: 100, prompt: "paper" };

async function benchmarks(): Promise<Array<{ name: string; problems: Problem[] }>> {
  const math = await loadDataset("math500", { dataDir: sharedData, limit: 6 });
  const gsm = await loadDataset("gsm8k", { dataDir: sharedData, limit: 5 });
  return [
    { name: "math500", problems: math.problems },
    { name: "gsm8k", problems: gsm.problems },
  ];
}

function engineFor(benches: Array<{ problems: Problem[] }>): ScriptedEngine {
  return new ScriptedEngine(new Map(benches.flatMap((b) => b.problems.map((p) => [p.question.trim(), p.answer] as [string, string]))));
}

function newStore(seed = 11): RunStore {
  return RunStore.create(join(tempDir(), "run"), { config: { seed, evaluation: { maxTokens: settings.maxTokens, benchmarks: [{ name: "math500" }, { name: "gsm8k" }] } }, model: { name: "scripted", engine: "scripted" } });
}

describe("evaluate (driver)", () => {
  it("grades, stores every sample and computes the metrics of what it stored", async () => {
    const benches = await benchmarks();
    const engine = engineFor(benches);
    const store = newStore();
    const report = await evaluate({ store, engine, benchmarks: benches, settings, concurrency: 3, handleSignals: false });
    expect(report.stage.processed).toBe(11);

    // Each request: the paper prompt (opened <think>), stop at </answer>, seed per (run seed, benchmark, problem).
    expect(engine.requests).toHaveLength(11);
    for (const r of engine.requests) {
      expect(r.stop).toEqual(["</answer>"]);
      expect((r.prompt as string).endsWith("Assistant: <think>\n")).toBe(true);
      expect(r).toMatchObject({ n: 4, temperature: 0.6, topP: 0.95, maxTokens: 100 });
    }
    const expectedSeeds = benches.flatMap((b) => b.problems.map((p) => deriveSeed(11, "eval", `${b.name}/${p.id}`, "generate")));
    expect(new Set(engine.requests.map((r) => r.seed))).toEqual(new Set(expectedSeeds));

    const rows = store.table(evalSamplesTable).all();
    expect(rows).toHaveLength(44);
    for (const b of benches) {
      const expected: SampleRecord[] = [];
      for (const p of b.problems) {
        const seed = deriveSeed(11, "eval", `${b.name}/${p.id}`, "generate");
        for (let i = 0; i < 4; i++) {
          const s = ScriptedEngine.script(seed, i, 100);
          const row = rows.find((r) => r.benchmark === b.name && r.problemId === p.id && r.sampleIndex === i)!;
          expect(row.correct, `${b.name} ${p.id} #${i}: extracted ${row.extracted} vs ${p.answer}`).toBe(s.correct);
          expect(row.tokens).toBe(s.tokens);
          expect(row.finishReason).toBe(s.finishReason);
          // A truncated response never closed its thinking: no answer. Otherwise the boxed answer is extracted.
          if (s.finishReason === "length") expect(row.extracted).toBeUndefined();
          else expect(row.extracted).toBeDefined();
          expect(row.level).toBe(p.meta.level);
          expect(row.subject).toBe(p.meta.subject);
          expected.push({ problemId: p.id, sampleIndex: i, tokens: s.tokens, correct: s.correct, finishReason: s.finishReason, level: p.meta.level, subject: p.meta.subject });
        }
      }
      const m = report.benchmarks[b.name];
      expect(m).toEqual(benchmarkMetrics(expected, { budget: 100 }));
      expect(m.acc).toBeGreaterThan(0);
      expect(m.lenT).not.toBeNull();
    }
    // Reading the run back gives the same metrics.
    store.close();
    expect(readEvalRun(store.dir).benchmarks).toEqual(report.benchmarks);
  });

  it("gives the same records at any concurrency, and refuses to mix settings", async () => {
    const benches = await benchmarks();
    const a = newStore();
    const b = newStore();
    await evaluate({ store: a, engine: engineFor(benches), benchmarks: benches, settings, concurrency: 1, handleSignals: false });
    await evaluate({ store: b, engine: engineFor(benches), benchmarks: benches, settings, concurrency: 8, handleSignals: false });
    expect(b.table(evalSamplesTable).all()).toEqual(a.table(evalSamplesTable).all());

    await expect(evaluate({ store: a, engine: engineFor(benches), benchmarks: benches, settings: { ...settings, samples: 2 }, handleSignals: false })).rejects.toThrow(
      StageParamsChangedError,
    );
    const redone = await evaluate({
      store: a,
      engine: engineFor(benches),
      benchmarks: benches,
      settings: { ...settings, samples: 2 },
      onParamsChange: "archive",
      handleSignals: false,
    });
    expect(redone.benchmarks.math500.n).toBe(12);
    expect(a.table(evalSamplesTable).count()).toBe(22);
    a.close();
    b.close();
  });
});
