/**
 * Embedded engine sampling/scoring throughput on a random Llama (no PyTorch comparison here; bench/engine*
 * holds the PyTorch-relative figures). Usage:
 *   node --import tsx bench/embedded-sampling.ts [--params 1m|0.2m] [--workers N] [--requests 200] [--n 16]
 *        [--max-tokens 200] [--batch1] [--backend wasm|cpu]
 * Prints JSON lines: {what, tokens, seconds, tokensPerSecond}.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedEngine } from "../src/engines/embedded/engine.js";
import { makeConfig, parameterCount } from "../src/model/config.js";
import { saveModelFolder } from "../src/model/folder.js";
import { randomWeights } from "../src/model/weights.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const size = opt("--params", "1m");
const workers = Number(opt("--workers", "2"));
const requests = Number(opt("--requests", "200"));
const n = Number(opt("--n", "16"));
const maxTokens = Number(opt("--max-tokens", "200"));
const backend = opt("--backend", "wasm") as "wasm" | "cpu";

const fixture = join(import.meta.dirname, "..", "test", "fixtures", "tiny-llama");
const tokenizer = {
  tokenizerJson: JSON.parse(readFileSync(join(fixture, "tokenizer.json"), "utf8")) as Record<string, unknown>,
  tokenizerConfig: JSON.parse(readFileSync(join(fixture, "tokenizer_config.json"), "utf8")) as Record<string, unknown>,
};
const config =
  size === "0.2m"
    ? makeConfig({ vocabSize: 512, hiddenSize: 64, numHiddenLayers: 4, numAttentionHeads: 4, numKeyValueHeads: 2, intermediateSize: 192, tieWordEmbeddings: true, maxPositionEmbeddings: 1024 })
    : makeConfig({ vocabSize: 1024, hiddenSize: 128, numHiddenLayers: 4, numAttentionHeads: 4, numKeyValueHeads: 2, intermediateSize: 384, maxPositionEmbeddings: 1024 });
const dir = mkdtempSync(join(tmpdir(), "bench-embedded-"));
// EOS ids outside what a random model favours: every completion runs to max tokens.
saveModelFolder(dir, { config: { ...config, eosTokenIds: [] }, weights: randomWeights(config, 1), tokenizer });
// The machine is shared, so besides wall time we report CPU seconds (all threads of this process): tokens per
// CPU-second is what the code costs, whatever else is running.
let cpuMark = process.cpuUsage();
const report = (what: string, tokens: number, seconds: number): void => {
  const cpu = process.cpuUsage(cpuMark);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(
    JSON.stringify({ what, params: parameterCount(config), backend, workers, tokens, seconds: +seconds.toFixed(2), tokensPerSecond: Math.round(tokens / seconds), cpuSeconds: +cpuSeconds.toFixed(2), tokensPerCpuSecond: Math.round(tokens / cpuSeconds) }) + "\n",
  );
  cpuMark = process.cpuUsage();
};

const engine = await EmbeddedEngine.load(dir, { workers, backend });
const prompt = Array.from({ length: 48 }, (_, i) => 3 + ((i * 7) % 500));
const sampling = { temperature: 1, topP: 0.95, topK: 0, maxTokens };

cpuMark = process.cpuUsage();
if (args.includes("--batch1")) {
  const t = performance.now();
  const r = await engine.generate({ prompt, n: 1, seed: 1, ...sampling });
  report("generate batch 1", r.completions[0].tokenIds.length, (performance.now() - t) / 1000);
}
{
  const t = performance.now();
  const r = await engine.generate({ prompt, n: 32, seed: 1, ...sampling });
  report("generate batch 32 (one request, n=32)", r.completions.reduce((a, c) => a + c.tokenIds.length, 0), (performance.now() - t) / 1000);
}
{
  const t = performance.now();
  const rs = await Promise.all(Array.from({ length: requests }, (_, i) => engine.generate({ prompt: prompt.map((x) => (x + i) % 500), n, seed: i, ...sampling })));
  const tokens = rs.flatMap((r) => r.completions).reduce((a, c) => a + c.tokenIds.length, 0);
  report(`generate ${requests} concurrent requests × n=${n}`, tokens, (performance.now() - t) / 1000);
}
{
  const prefix = Array.from({ length: 256 }, (_, i) => 3 + ((i * 13) % 500));
  const continuations = Array.from({ length: 64 }, (_, k) => Array.from({ length: 128 }, (_, j) => 3 + ((j * 11 + k) % 500)));
  const t = performance.now();
  await engine.score({ prefix, continuations, distributions: "full" });
  report("score 64 continuations × 128 tokens after a 256-token prefix (full distributions)", 64 * 128, (performance.now() - t) / 1000);
}
await engine.close();
