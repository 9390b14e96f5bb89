/**
 * `tokensqueeze world`: the built-in reasoning world.
 *   world generate  problems and reference traces as JSONL, for inspection
 *   world report    evaluates a model on the held-out problems (through the evaluation module) and adds the
 *                   world analysis: accuracy by level, length variation, depth gap, compressible wording,
 *                   reflection (share, markers, accuracy with vs without, results it fixed or broke)
 *
 * `world report` takes the run flags and sampling flags every evaluation takes (src/cli/run-flags.ts), with the
 * config schema's defaults (engine.model: the built-in models/world-base; evaluation: 16 samples, temperature
 * 0.6, top_p 0.95, the paper's prompt), and evaluates the `world-test` benchmark exactly as
 * `eval --bench world-test` does: same settings and seed, same samples. Two values are the world's own (max
 * tokens and concurrency, below), used only where no flag, preset, config file or --set chose one.
 */
import type { Command } from "commander";
import { parseBounded } from "../options.js";
import { createWriteStream } from "node:fs";
import { UserError } from "../../util/errors.js";
import { addRunFlags, addSamplingFlags, resolveRunConfig, type RunFlags, type SamplingFlags } from "../run-flags.js";
import type { ChangeTally, ReflectionReport, Split } from "../../world/report.js";

/**
 * Max new tokens per sample on the world when nothing else sets evaluation.maxTokens. The schema's default
 * (32768, the paper's budget for R1-Distill models) is far beyond the built-in model's context of 1024 tokens
 * (prompt + completion), where every sample would run into the context instead of the budget. 768 leaves room
 * for the prompt (under 150 tokens with either prompt preset) and is about three times the mean length of a
 * level-5 answer (258 tokens; docs/BENCHMARKS.md), so no sample of the built-in model is cut by it.
 */
export const WORLD_REPORT_MAX_TOKENS = 768;

/**
 * Problems in flight at once on the world when nothing else sets engine.concurrency (schema default 4). The
 * built-in model is small, so one generation step is cheap and the engine gains from wider batches: 8 problems
 * × 16 samples = 128 sequences per step (the engine batches up to 256). On this 2-core machine, 40 problems × 16
 * samples took 77–78 s at 8 against 83–86 s at 4 (interleaved runs, same load); docs/BENCHMARKS.md's world
 * figures were measured at 8. Concurrency never changes the samples (they derive from seeds).
 */
export const WORLD_REPORT_CONCURRENCY = 8;

interface GenerateFlags {
  split: string;
  level?: string;
  count: string;
  traces: string;
  seed: string;
  out?: string;
}

interface ReportFlags extends RunFlags, SamplingFlags {
  limit?: string;
  out?: string;
  progress?: string;
  force?: boolean;
  json?: boolean;
}

/** The benchmark `world report` evaluates: the world's held-out set, by its one name. */
const BENCHMARK = "world-test";

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

  const reportCmd = world
    .command("report")
    .description("evaluate a model on the held-out world problems and measure depth use and compressible wording")
    .option("--limit <n>", "first n held-out problems (levels interleaved, so any n stays balanced); default all 200");
  addSamplingFlags(addRunFlags(reportCmd), "evaluation");
  // The world's own defaults, said where a user looks for them (each flag's help names its config key).
  appendHelp(reportCmd, "--max-tokens", `; world report: ${WORLD_REPORT_MAX_TOKENS} unless the config sets it (the built-in model's context is 1024 tokens)`);
  appendHelp(reportCmd, "--concurrency", `; world report: ${WORLD_REPORT_CONCURRENCY} unless the config sets it (wider batches are faster on the small built-in model)`);
  reportCmd
    .option("--out <dir>", "run directory (default runs/world-report-<time>); samplingSeconds is only meaningful for a fresh run")
    .option("--progress <mode>", "auto | bar | plain | json | none (progress goes to stderr)")
    .option("--force", "adopt changed settings in an existing run")
    .option("--json", "print the report as JSON on stdout")
    .action(async (flags: ReportFlags) => {
      const { runEvaluation } = await import("../../eval/run.js");
      const { evalSamplesTable } = await import("../../eval/evaluate.js");
      const { benchmarkJson } = await import("../../eval/format.js");
      const { openEngine } = await import("../../engines/factory.js");
      const { RunStore, commandLine } = await import("../../store/index.js");
      const { createProgress, progressModeFrom } = await import("../../util/progress.js");
      const { worldReportAsync } = await import("../../world/report.js");
      const { heldoutProblems } = await import("../../world/expression.js");

      const total = heldoutProblems().length;
      const limit = flags.limit !== undefined ? parseBounded("--limit", flags.limit, { integer: true, min: 1 }) : total;
      if (limit > total) throw new UserError(`--limit: the held-out split has ${total} problems, asked for ${limit}`);
      // The world's own values are a layer below the preset, --config, --set and the flags, so they apply only
      // where nothing chose a value (WORLD_REPORT_MAX_TOKENS, WORLD_REPORT_CONCURRENCY say why).
      const config = await resolveRunConfig(flags, {
        sampling: "evaluation",
        base: { label: "world report defaults", data: { evaluation: { maxTokens: WORLD_REPORT_MAX_TOKENS }, engine: { concurrency: WORLD_REPORT_CONCURRENCY } } },
        extra: () => ({ "evaluation.benchmarks": [{ name: BENCHMARK, limit }] }),
      });
      const { samples, temperature, topP, prompt } = config.evaluation;
      const mode = progressModeFrom({ progress: flags.progress, json: flags.json });
      const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
      const outDir = flags.out ?? `runs/world-report-${stamp}`;
      const argv = process.argv.slice(2);
      const resumeArgv = flags.out === undefined ? [...argv, "--out", outDir] : argv;
      // The engine is opened (weights loaded, workers started) before the clock starts, and stays open until its
      // tokenizer has counted the report's step texts.
      const engine = await openEngine(config.engine);
      let result;
      let samplingSeconds: number;
      let report;
      try {
        const t0 = performance.now();
        result = await runEvaluation({ config, outDir, engine, force: flags.force, argv: resumeArgv, resumeCommand: commandLine(resumeArgv), progress: createProgress({ mode }) });
        samplingSeconds = (performance.now() - t0) / 1000;
        const store = RunStore.open(result.dir, { readonly: true });
        let rows;
        try {
          rows = store.table(evalSamplesTable).all({ benchmark: BENCHMARK });
        } finally {
          store.close();
        }
        report = await worldReportAsync(
          rows.map((r) => ({ problemId: r.problemId, level: r.level ?? 0, sampleIndex: r.sampleIndex, text: r.text, tokens: r.tokens, correct: r.correct, finishReason: r.finishReason })),
          async (t) => (await engine.tokenize(t, { addSpecialTokens: false })).length,
        );
      } finally {
        await engine.close();
      }
      const metrics = result.benchmarks[BENCHMARK];
      const out = {
        model: config.engine.servedModelName ?? config.engine.model,
        run: result.dir,
        prompt,
        temperature,
        topP,
        maxTokens: config.evaluation.maxTokens,
        samplesPerProblem: samples,
        samplingSeconds: Math.round(samplingSeconds * 10) / 10,
        ...report,
        eval: benchmarkJson(metrics, result.errors[BENCHMARK]),
      };
      if (flags.json) {
        process.stdout.write(JSON.stringify(out, null, 2) + "\n");
        return;
      }
      const f = (x: number | null): string => (x === null ? "n/a" : x.toFixed(1));
      const lines = [
        `world report: ${report.problems} held-out problems × ${samples} samples (T=${temperature}, ${prompt} prompt), ${out.samplingSeconds}s sampling`,
        `accuracy by level:   ${Object.entries(report.accuracyByLevel).map(([l, a]) => `L${l} ${a.toFixed(1)}%`).join("  ")}`,
        `mean tokens by level: ${Object.entries(report.meanTokensByLevel).map(([l, a]) => `L${l} ${a.toFixed(0)}`).join("  ")}`,
        `depth use by level:  ${Object.entries(report.depthUseByLevel).map(([l, a]) => `L${l} ${a.toFixed(0)}%`).join("  ")}`,
        `depth gap (with − without): levels 4-5 ${f(report.depthGapHard)} points, levels 1-2 ${f(report.depthGapEasy)} points`,
        `median length CV: ${report.medianLengthCV.toFixed(3)}`,
        `compressible wording: ${(100 * report.compressibleShare).toFixed(1)}% of thinking tokens (shortest phrasings would save ${(100 * report.wordingSavingsShare).toFixed(1)}%)`,
        `unrecognised steps: ${(100 * report.unknownStepShare).toFixed(1)}% of thinking tokens; truncated samples ${report.truncatedShare}%`,
        ...reflectionLines(report.reflection),
        `run: ${result.dir}`,
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}

function reflectionLines(r: ReflectionReport): string[] {
  const f = (x: number | null): string => (x === null ? "n/a" : x.toFixed(1));
  const p = (x: number | null): string => (x === null ? "n/a" : `${x.toFixed(1)}%`);
  const byLevel = (g: Record<string, Split>): string =>
    Object.entries(g)
      .map(([l, s]) => `L${l} ${p(s.withDepth.accuracy)}/${p(s.withoutDepth.accuracy)} (${s.withDepth.samples}/${s.withoutDepth.samples} samples)`)
      .join("  ");
  const changes = (c: ChangeTally): string => `${c.fixed} fixed, ${c.broke} broke, ${c.neither} neither (${c.samples} samples, ${p(c.accuracy)} correct)`;
  return [
    `reflection by level: ${Object.entries(r.shareByLevel).map(([l, a]) => `L${l} ${a.toFixed(0)}%`).join("  ")} of samples; ${r.markersPer1000Words.toFixed(1)} markers per 1,000 thinking words`,
    `accuracy with/without reflection: ${byLevel(r.accuracyByLevel)}`,
    `reflection gap (with − without): levels 4-5 ${f(r.hard.gap)} points, levels 1-2 ${f(r.easy.gap)} points`,
    `results changed by reflection: ${changes(r.changes)}; levels 4-5: ${changes(r.changesHard)}`,
  ];
}

function appendHelp(cmd: Command, flag: string, text: string): void {
  const option = cmd.options.find((o) => o.long === flag);
  if (!option) throw new Error(`world report: no ${flag} option to document`);
  option.description += text;
}
