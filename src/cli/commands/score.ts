/**
 * `tokensqueeze score --model <folder> --prefix TEXT --continuation TEXT`: per-token log-probabilities of a
 * continuation after a prefix (and their sum), from the embedded engine.
 */
import type { Command } from "commander";
import { collect, parseBounded } from "../options.js";

interface ScoreOptions {
  model: string;
  prefix: string;
  continuation: string[];
  topK?: string;
  json?: boolean;
}


export function register(program: Command): void {
  program
    .command("score")
    .description("per-token log-probabilities of continuations after a prefix (embedded engine)")
    .requiredOption("--model <folder>", "HF model folder (config.json, model.safetensors, tokenizer.json)")
    .requiredOption("--prefix <text>", "context the continuation follows")
    .requiredOption("--continuation <text>", "text to score (repeatable: all share the encoded prefix)", collect, [])
    .option("--top-k <k>", "also show the k most likely tokens at each position")
    .option("--json", "print the result as JSON on stdout")
    .action(async (opts: ScoreOptions) => {
      const topK = opts.topK !== undefined ? parseBounded("--top-k", opts.topK, { integer: true, min: 1 }) : undefined;
      const { EmbeddedEngine } = await import("../../engines/embedded/engine.js");
      const engine = await EmbeddedEngine.load(opts.model, { workers: 0 });
      try {
        const result = await engine.score({ prefix: opts.prefix, continuations: opts.continuation, distributions: topK ? "topk" : "none", topK });
        const piece = (id: number): string => engine.tokenizer.decode([id], { skipSpecialTokens: false });
        const continuations = result.continuations.map((c, i) => ({
          continuation: opts.continuation[i],
          tokens: c.tokenIds.map((id, j) => ({
            id,
            text: piece(id),
            logprob: c.logprobs[j],
            ...(c.topLogprobs ? { top: c.topLogprobs[j].map(([tid, lp]) => ({ id: tid, text: piece(tid), logprob: lp })) } : {}),
          })),
          sum: c.logprobs.reduce((a, b) => a + b, 0),
        }));
        if (opts.json) {
          process.stdout.write(JSON.stringify({ model: opts.model, prefixTokens: result.prefixTokens, continuations }, null, 2) + "\n");
        } else {
          for (const c of continuations) {
            process.stdout.write(`continuation ${JSON.stringify(c.continuation)}: ${c.tokens.length} tokens, sum log-prob ${c.sum.toFixed(4)}\n`);
            for (const t of c.tokens) {
              const top = t.top ? "   top: " + t.top.map((x) => `${JSON.stringify(x.text)} ${x.logprob.toFixed(3)}`).join(", ") : "";
              process.stdout.write(`  ${String(t.id).padStart(6)} ${JSON.stringify(t.text).padEnd(16)} ${t.logprob.toFixed(4)}${top}\n`);
            }
          }
        }
      } finally {
        await engine.close();
      }
    });
}
