/**
 * `tokensqueeze world`: the built-in reasoning world.
 *   world generate  problems and reference traces as JSONL, for inspection
 *   world report    evaluates a model on the held-out problems (through the evaluation module) and adds the
 *                   world analysis: accuracy by level, length variation, depth gap, compressible wording
 */
import type { Command } from "commander";
import { parseBounded, parseNumber } from "../options.js";
import { createWriteStream } from "node:fs";
import { UserError } from "../../util/errors.js";
// Light (no tfjs): registers the world datasets (world-train, world-test, world) for every command.
import "../../world/dataset.js";

interface GenerateFlags {
  split: string;
  level?: string;
  count: string;
  traces: string;
  seed: string;
  out?: string;
}

interface ReportFlags {
  model: string;
  samples: string;
  limit?: string;
  temperature: string;
  topP: string;
  maxTokens: string;
  prompt: string;
  seed: string;
  concurrency?: string;
  out?: string;
  progress?: string;
  force?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const world = program.command("world").description("the built-in reasoning world: generate problems and traces, measure a model on it");

  world
    .command("generate")
    .description("write world problems with reference traces as JSONL (one problem per line)")
    .option("--split <split>", "train | heldout", "train")
    .option("--level <n>", "only this level (1-5); default all levels interleaved")
    .option("--count <n>", "problems", "10")
    .option("--traces <k>", "reference traces per problem", "1")
    .option("--seed <n>", "generator seed (the held-out split ignores it: it is fixed)", "1")
    .option("--out <file>", "write here instead of stdout")
    .action(async (flags: GenerateFlags) => {
      const { generateProblem, heldoutProblems, MAX_LEVEL, MIN_LEVEL } = await import("../../world/expression.js");
      const { generateTrace } = await import("../../world/traces.js");
      if (flags.split !== "train" && flags.split !== "heldout") throw new UserError(`--split: expected train or heldout, got "${flags.split}"`);
      const count = parseBounded("--count", flags.count, { integer: true, min: 1 });
      const traces = parseBounded("--traces", flags.traces, { integer: true, min: 0 });
      const seed = parseBounded("--seed", flags.seed, { integer: true, min: 0 });
      const level = flags.level !== undefined ? parseBounded("--level", flags.level, { integer: true, min: MIN_LEVEL }) : undefined;
      if (level !== undefined && level > MAX_LEVEL) throw new UserError(`--level: expected ${MIN_LEVEL}..${MAX_LEVEL}, got ${level}`);
      const levels = MAX_LEVEL - MIN_LEVEL + 1;
      let problems;
      if (flags.split === "heldout") {
        const perLevel = Math.ceil(count / (level !== undefined ? 1 : levels));
        problems = heldoutProblems(Math.max(perLevel, 1))
          .filter((p) => level === undefined || p.level === level)
          .slice(0, count);
      } else {
        problems = Array.from({ length: count }, (_, i) =>
          level !== undefined ? generateProblem("train", level, seed, i) : generateProblem("train", MIN_LEVEL + (i % levels), seed, Math.floor(i / levels)),
        );
      }
      const out = flags.out !== undefined ? createWriteStream(flags.out) : process.stdout;
      for (const p of problems) {
        const ts = Array.from({ length: traces }, (_, k) => {
          const t = generateTrace(p, seed, k);
          return { care: t.care, usesDepth: t.usesDepth, injectedErrors: t.injectedErrors, steps: t.steps.map((s) => ({ kind: s.kind, phrasing: s.phrasing, text: s.text, shortest: s.shortest })), response: t.response };
        });
        out.write(JSON.stringify({ id: p.id, level: p.level, split: p.split, question: p.question, answer: String(p.answer), traces: ts }) + "\n");
      }
      if (out !== process.stdout) await new Promise<void>((res) => (out as NodeJS.WritableStream).end(() => res()));
    });

  world
    .command("report")
    .description("evaluate a model on the held-out world problems and measure depth use and compressible wording")
    .option("--model <folder>", "model folder (embedded engine)", "models/world-base")
    .option("--samples <n>", "samples per problem", "16")
    .option("--limit <n>", "first n held-out problems (levels interleaved, so any n stays balanced); default all 200")
    .option("--temperature <t>", "sampling temperature", "0.6")
    .option("--top-p <p>", "nucleus sampling", "0.95")
    .option("--max-tokens <n>", "max new tokens per sample", "768")
    .option("--prompt <preset>", "paper | chat (see `eval --help`)", "paper")
    .option("--seed <n>", "run seed", "42")
    .option("--concurrency <n>", "problems in flight at once (the engine batches their samples)", "8")
    .option("--out <dir>", "run directory (default runs/world-report-<time>); samplingSeconds is only meaningful for a fresh run")
    .option("--progress <mode>", "auto | bar | plain | json | none (progress goes to stderr)")
    .option("--force", "adopt changed settings in an existing run")
    .option("--json", "print the report as JSON on stdout")
    .action(async (flags: ReportFlags) => {
      const { resolveConfig } = await import("../../config/index.js");
      const { runEvaluation } = await import("../../eval/run.js");
      const { evalSamplesTable } = await import("../../eval/evaluate.js");
      const { openEngine } = await import("../../engines/factory.js");
      const { RunStore } = await import("../../store/index.js");
      const { loadModelFolder } = await import("../../model/folder.js");
      const { createProgress, progressModeFrom } = await import("../../util/progress.js");
      const { worldReport } = await import("../../world/report.js");
      const { heldoutProblems } = await import("../../world/expression.js");

      const samples = parseBounded("--samples", flags.samples, { integer: true, min: 1 });
      const total = heldoutProblems().length;
      const limit = flags.limit !== undefined ? parseBounded("--limit", flags.limit, { integer: true, min: 1 }) : total;
      if (limit > total) throw new UserError(`--limit: the held-out split has ${total} problems, asked for ${limit}`);
      const temperature = parseNumber("--temperature", flags.temperature, (x) => x >= 0, "a number ≥ 0");
      const topP = parseNumber("--top-p", flags.topP, (x) => x > 0 && x <= 1, "a number in (0, 1]");
      const maxTokens = parseBounded("--max-tokens", flags.maxTokens, { integer: true, min: 1 });
      if (flags.prompt !== "paper" && flags.prompt !== "chat") throw new UserError(`--prompt: expected paper or chat, got "${flags.prompt}"`);
      const concurrency = parseBounded("--concurrency", flags.concurrency ?? "8", { integer: true, min: 1 });
      const config = resolveConfig({
        overrides: {
          "engine.kind": "embedded",
          "engine.model": flags.model,
          "engine.concurrency": concurrency,
          "evaluation.benchmarks": [{ name: "world-test", limit }],
          "evaluation.samples": samples,
          "evaluation.temperature": temperature,
          "evaluation.topP": topP,
          "evaluation.maxTokens": maxTokens,
          "evaluation.prompt": flags.prompt,
          seed: parseBounded("--seed", flags.seed, { integer: true, min: 0 }),
        },
      });
      let mode;
      try {
        mode = progressModeFrom({ progress: flags.progress, json: flags.json });
      } catch (err) {
        throw new UserError(err instanceof Error ? err.message : String(err));
      }
      const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
      const outDir = flags.out ?? `runs/world-report-${stamp}`;
      // The engine is opened (weights loaded, workers started) before the clock starts.
      const engine = await openEngine(config.engine);
      let result;
      let samplingSeconds: number;
      try {
        const t0 = performance.now();
        result = await runEvaluation({ config, outDir, engine, force: flags.force, argv: process.argv.slice(2), progress: createProgress({ mode }) });
        samplingSeconds = (performance.now() - t0) / 1000;
      } finally {
        await engine.close();
      }
      const store = RunStore.open(result.dir, { readonly: true });
      let rows;
      try {
        rows = store.table(evalSamplesTable).all({ benchmark: "world-test" });
      } finally {
        store.close();
      }
      const tokenizer = loadModelFolder(config.engine.model).tokenizer;
      const report = worldReport(
        rows.map((r) => ({ problemId: r.problemId, level: r.level ?? 0, sampleIndex: r.sampleIndex, text: r.text, tokens: r.tokens, correct: r.correct, finishReason: r.finishReason })),
        (t) => tokenizer.encode(t, { addSpecialTokens: false }).length,
      );
      const metrics = result.benchmarks["world-test"];
      const out = {
        model: flags.model,
        run: result.dir,
        prompt: flags.prompt,
        temperature,
        topP,
        samplesPerProblem: samples,
        samplingSeconds: Math.round(samplingSeconds * 10) / 10,
        ...report,
        eval: metrics,
      };
      if (flags.json) {
        process.stdout.write(JSON.stringify(out, null, 2) + "\n");
        return;
      }
      const f = (x: number | null): string => (x === null ? "n/a" : x.toFixed(1));
      const lines = [
        `world report: ${report.problems} held-out problems × ${samples} samples (T=${temperature}, ${flags.prompt} prompt), ${out.samplingSeconds}s sampling`,
        `accuracy by level:   ${Object.entries(report.accuracyByLevel).map(([l, a]) => `L${l} ${a.toFixed(1)}%`).join("  ")}`,
        `mean tokens by level: ${Object.entries(report.meanTokensByLevel).map(([l, a]) => `L${l} ${a.toFixed(0)}`).join("  ")}`,
        `depth use by level:  ${Object.entries(report.depthUseByLevel).map(([l, a]) => `L${l} ${a.toFixed(0)}%`).join("  ")}`,
        `depth gap (with − without): levels 4-5 ${f(report.depthGapHard)} points, levels 1-2 ${f(report.depthGapEasy)} points`,
        `median length CV: ${report.medianLengthCV.toFixed(3)}`,
        `compressible wording: ${(100 * report.compressibleShare).toFixed(1)}% of thinking tokens (shortest phrasings would save ${(100 * report.wordingSavingsShare).toFixed(1)}%)`,
        `unrecognised steps: ${(100 * report.unknownStepShare).toFixed(1)}% of thinking tokens; truncated samples ${report.truncatedShare}%`,
        `run: ${result.dir}`,
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}
