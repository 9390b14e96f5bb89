/**
 * Embedded engine vs PyTorch on the same Llama models, on this machine, in one run.
 *
 *   node --import tsx bench/engine.ts [--sizes 0.2M,1M] [--repeats 3] [--threads 2] [--workloads gen,score,train] [--json]
 *
 * For each size, bench/engine_torch.py creates a random-weight HF folder (seeded; no EOS so every completion runs
 * to its token budget), then both sides load that same folder and time the same workloads:
 *   gen b1   one prompt of 16 tokens, 64 new tokens sampled at temperature 1 (KV cache)
 *   gen b32  32 different prompts at once, 64 new tokens each (KV cache; continuous batching here)
 *   score    one 128-token prefix encoded once, 32 continuations of 64 tokens scored (log-prob of each token;
 *            "full" also materialises the full next-token log-distribution at every position)
 *   train    batch 16 × 128 tokens: forward, backward, clip, AdamW (3 steps per timing)
 * Figures are tokens/s, the median of --repeats timings after a warm-up; the ratio is embedded / PyTorch.
 * PyTorch runs on CPU twice, with 1 and with --threads threads (both cores by default), and the baseline is the
 * faster of the two for each workload: a conservative baseline, and a robust one when the machine is not idle
 * (PyTorch's OpenMP threads slow down badly when another process holds a core). The embedded engine runs with
 * --threads worker threads (generation, scoring) and gradient threads (training). The load average is printed
 * with the results; figures taken under load are noisy.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { EmbeddedEngine } from "../src/engines/embedded/engine.js";
import { loadModelFolder } from "../src/model/folder.js";
import { LlamaModel } from "../src/model/llama.js";
import { initTf } from "../src/model/tf.js";
import { llamaParameters } from "../src/train/llama.js";
import { ParallelGradientSource, siblingModule } from "../src/train/parallel.js";
import { sftObjective } from "../src/train/sft.js";
import { defaultTrainerConfig, train } from "../src/train/trainer.js";
import { Rng } from "../src/util/rng.js";
import { timed } from "./timing.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const python = join(repoRoot, ".venv", "bin", "python");
const torchScript = join(repoRoot, "bench", "engine_torch.py");

/** HF config.json fields of the two benchmark models (vocabulary of the tiny-llama fixture's tokenizer). */
const SIZES: Record<string, Record<string, unknown>> = {
  "0.2M": { vocab_size: 512, hidden_size: 64, intermediate_size: 192, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2 },
  "1M": { vocab_size: 512, hidden_size: 128, intermediate_size: 384, num_hidden_layers: 5, num_attention_heads: 4, num_key_value_heads: 2 },
};
const COMMON = { max_position_embeddings: 512, tie_word_embeddings: true, rms_norm_eps: 1e-5, rope_theta: 10000, bos_token_id: null, eos_token_id: null, pad_token_id: null };

const WORKLOAD = {
  gen: { prompt: 16, new: 64, batches: [1, 32] },
  score: { prefix: 128, continuations: 32, length: 64 },
  train: { batch: 16, length: 128, steps: 3 },
};

type Figures = Record<string, number>;


function runPython(args: string[]): string {
  const r = spawnSync(python, [torchScript, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${torchScript} ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

/** A random-weight folder written by transformers, with the fixture's tokenizer minus its EOS token. */
function createModel(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bench-engine-${size}-`));
  runPython(["create", "--out", dir, "--seed", "0", "--config", JSON.stringify({ ...SIZES[size], ...COMMON })]);
  const fixture = join(repoRoot, "test", "fixtures", "tiny-llama");
  copyFileSync(join(fixture, "tokenizer.json"), join(dir, "tokenizer.json"));
  const tokCfg = JSON.parse(readFileSync(join(fixture, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
  delete tokCfg.eos_token;
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tokCfg));
  writeFileSync(join(dir, "generation_config.json"), JSON.stringify({}));
  return dir;
}

type WorkloadName = keyof typeof WORKLOAD;

async function embeddedFigures(dir: string, threads: number, repeats: number, workloads: ReadonlySet<WorkloadName>): Promise<Figures> {
  const out: Figures = {};
  const rng = new Rng(7);
  const folder = loadModelFolder(dir);
  if (folder.eosTokenIds.length > 0) throw new Error(`benchmark model has EOS ids ${folder.eosTokenIds}; completions could stop early`);
  const V = folder.config.vocabSize;
  const ids = (n: number): number[] => Array.from({ length: n }, () => rng.int(0, V - 1));
  const engine = await EmbeddedEngine.load(dir, { workers: threads });
  try {
    let seed = 0;
    for (const b of workloads.has("gen") ? WORKLOAD.gen.batches : []) {
      const prompts = Array.from({ length: b }, () => ids(WORKLOAD.gen.prompt));
      out[`gen_b${b}_tokens_per_s`] = await timed(async () => {
        seed++;
        const results = await Promise.all(
          prompts.map((prompt) => engine.generate({ prompt, n: 1, seed, temperature: 1, topP: 1, topK: 0, maxTokens: WORKLOAD.gen.new })),
        );
        return results.reduce((n, r) => n + r.completions.reduce((m, c) => m + c.tokenIds.length, 0), 0);
      }, repeats);
    }
    const prefix = ids(WORKLOAD.score.prefix);
    const continuations = Array.from({ length: WORKLOAD.score.continuations }, () => ids(WORKLOAD.score.length));
    for (const distributions of workloads.has("score") ? (["none", "full"] as const) : []) {
      out[distributions === "full" ? "score_full_tokens_per_s" : "score_tokens_per_s"] = await timed(async () => {
        const r = await engine.score({ prefix, continuations, distributions });
        return r.continuations.reduce((n, c) => n + c.logprobs.length, 0);
      }, repeats);
    }
  } finally {
    await engine.close();
  }
  if (!workloads.has("train")) return out;

  await initTf("wasm");
  const model = LlamaModel.fromWeights(folder.config, folder.weights);
  const params = llamaParameters(model);
  const objective = sftObjective(folder.config);
  const { batch, length, steps } = WORKLOAD.train;
  const examples = Array.from({ length: batch * (steps + 1) }, () => ({ ids: ids(length + 1) }));
  const source =
    threads > 1
      ? await ParallelGradientSource.create({
          params,
          objective,
          threads,
          replica: { module: siblingModule(new URL("../src/train/parallel.ts", import.meta.url).href, "sft-replica"), args: { config: folder.config, weights: folder.weights } },
        })
      : undefined;
  try {
    out.train_tokens_per_s = await timed(async () => {
      await train({ params, objective, examples, gradientSource: source, config: { ...defaultTrainerConfig, steps, batchSize: batch, lr: 1e-3, shuffle: false } });
      return batch * length * steps;
    }, repeats);
  } finally {
    await source?.close();
    model.dispose();
  }
  return out;
}

const ROWS: Array<[string, string, WorkloadName]> = [
  ["gen_b1_tokens_per_s", "generation, batch 1", "gen"],
  ["gen_b32_tokens_per_s", "generation, batch 32", "gen"],
  ["score_tokens_per_s", "scoring (token log-probs)", "score"],
  ["score_full_tokens_per_s", "scoring (+ full distributions)", "score"],
  ["train_tokens_per_s", "training (fwd+bwd+AdamW)", "train"],
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string", default: "0.2M,1M" },
      repeats: { type: "string", default: "3" },
      threads: { type: "string", default: "2" },
      workloads: { type: "string", default: "gen,score,train" },
      json: { type: "boolean", default: false },
    },
  });
  const sizes = values.sizes!.split(",");
  for (const s of sizes) if (!(s in SIZES)) throw new Error(`unknown size ${s}; choose from ${Object.keys(SIZES).join(", ")}`);
  const workloads = new Set(values.workloads!.split(",") as WorkloadName[]);
  for (const w of workloads) if (!(w in WORKLOAD)) throw new Error(`unknown workload ${w}; choose from ${Object.keys(WORKLOAD).join(", ")}`);
  const work = Object.fromEntries(Object.entries(WORKLOAD).filter(([k]) => workloads.has(k as WorkloadName)));
  const repeats = Number(values.repeats);
  const threads = Number(values.threads);
  const loadBefore = loadavg()[0];
  const report: Record<string, unknown> = {
    machine: `${cpus()[0]?.model ?? "?"}, ${cpus().length} cores`,
    node: process.version,
    threads,
    repeats,
    loadAverageBefore: loadBefore,
    sizes: {} as Record<string, unknown>,
  };
  const lines: string[] = [];
  for (const size of sizes) {
    const dir = createModel(size);
    const torchRuns: Array<Figures & { parameters: number; torch: string; threads: number }> = [];
    for (const t of [...new Set([1, threads])]) {
      process.stderr.write(`[${size}] PyTorch, ${t} thread(s) …\n`);
      torchRuns.push(JSON.parse(runPython(["run", "--model", dir, "--workload", JSON.stringify(work), "--threads", String(t), "--repeats", String(repeats)])));
    }
    process.stderr.write(`[${size}] embedded …\n`);
    const embedded = await embeddedFigures(dir, threads, repeats, workloads);
    rmSync(dir, { recursive: true, force: true });
    const parameters = torchRuns[0].parameters;
    (report.sizes as Record<string, unknown>)[size] = { parameters, torch: torchRuns, embedded };
    report.torchVersion = torchRuns[0].torch;
    lines.push(`\n${size} model (${parameters.toLocaleString("en-US")} parameters)\n`);
    lines.push("| workload | embedded tok/s | PyTorch tok/s (threads) | ratio |");
    lines.push("|---|---:|---:|---:|");
    for (const [key, label, w] of ROWS) {
      if (!workloads.has(w)) continue;
      const e = embedded[key];
      const best = torchRuns.reduce((a, b) => (b[key] > a[key] ? b : a));
      lines.push(`| ${label} | ${e.toFixed(0)} | ${best[key].toFixed(0)} (${best.threads}) | ${(e / best[key]).toFixed(2)}× |`);
    }
  }
  report.loadAverageAfter = loadavg()[0];
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else {
    process.stdout.write(`machine: ${report.machine as string}; node ${process.version}; torch ${report.torchVersion as string}; threads ${threads}; median of ${repeats}\n`);
    process.stdout.write(`load average (1 min) before ${loadBefore.toFixed(2)}, after ${(report.loadAverageAfter as number).toFixed(2)}\n`);
    process.stdout.write(lines.join("\n") + "\n");
  }
}

await main();
