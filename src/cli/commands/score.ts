/**
 * `tokensqueeze score --prefix TEXT --continuation TEXT [--model <folder>]`: per-token log-probabilities of a
 * continuation after a prefix (and their sum). The model is the run configuration's (engine.kind, engine.model:
 * the built-in model unless --model, a preset, --config or --set names another), opened through `openEngine`.
 */
import type { Command } from "commander";
import { collect, parseBounded } from "../options.js";
import { addRunFlags, resolveRunConfig, type RunFlags } from "../run-flags.js";

interface ScoreOptions extends RunFlags {
  prefix: string;
  continuation: string[];
  topK?: string;
  json?: boolean;
}

export function register(program: Command): void {
  addRunFlags(
    program
      .command("score")
      .description("per-token log-probabilities of continuations after a prefix (embedded engine by default)")
      .requiredOption("--prefix <text>", "context the continuation follows")
      .requiredOption("--continuation <text>", "text to score (repeatable: all share the encoded prefix)", collect, [])
      .option("--top-k <k>", "also show the k most likely tokens at each position"),
  )
    .option("--json", "print the result as JSON on stdout")
    .action(async (opts: ScoreOptions) => {
      const topK = opts.topK !== undefined ? parseBounded("--top-k", opts.topK, { integer: true, min: 1 }) : undefined;
      const config = await resolveRunConfig(opts);
      const { openEngine } = await import("../../engines/factory.js");
      // One prefix and a few continuations: the calling thread is faster than starting worker threads.
      const engine = await openEngine(config.engine, { workers: 0 });
      try {
        const result = await engine.score({ prefix: opts.prefix, continuations: opts.continuation, distributions: topK ? "topk" : "none", topK });
        const pieces = new Map<number, string>();
        const piece = async (id: number): Promise<string> => {
          if (!pieces.has(id)) pieces.set(id, await engine.detokenize([id], { skipSpecialTokens: false }));
          return pieces.get(id)!;
        };
        const continuations = [];
        for (const [i, c] of result.continuations.entries()) {
          const tokens = [];
          for (const [j, id] of c.tokenIds.entries()) {
            const top = c.topLogprobs ? await Promise.all(c.topLogprobs[j].map(async ([tid, lp]) => ({ id: tid, text: await piece(tid), logprob: lp }))) : undefined;
            tokens.push({ id, text: await piece(id), logprob: c.logprobs[j], ...(top ? { top } : {}) });
          }
          continuations.push({ continuation: opts.continuation[i], tokens, sum: c.logprobs.reduce((a, b) => a + b, 0) });
        }
        if (opts.json) {
          const model = config.engine.servedModelName ?? config.engine.model;
          process.stdout.write(JSON.stringify({ model, prefixTokens: result.prefixTokens, continuations }, null, 2) + "\n");
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
