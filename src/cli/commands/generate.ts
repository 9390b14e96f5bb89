/**
 * `tokensqueeze generate --model <folder> --prompt TEXT`: sample completions from an HF model folder with the
 * embedded engine (seeded: the same command prints the same completions).
 */
import type { Command } from "commander";
import { collect, parseBounded } from "../options.js";

interface GenerateOptions {
  model: string;
  prompt: string;
  chat?: boolean;
  n: string;
  seed: string;
  temperature: string;
  topP: string;
  topK: string;
  maxTokens: string;
  stop: string[];
  workers?: string;
  json?: boolean;
}


export function register(program: Command): void {
  program
    .command("generate")
    .description("sample completions from a Hugging Face model folder with the embedded engine")
    .requiredOption("--model <folder>", "HF model folder (config.json, model.safetensors, tokenizer.json)")
    .requiredOption("--prompt <text>", "prompt text")
    .option("--chat", "wrap the prompt as a user message with the model's chat template")
    .option("--n <count>", "number of completions", "4")
    .option("--seed <int>", "completion i draws from a generator seeded by (seed, i)", "1")
    .option("--temperature <t>", "sampling temperature (0 = greedy)", "1")
    .option("--top-p <p>", "nucleus sampling threshold (1 disables)", "1")
    .option("--top-k <k>", "keep the k most likely tokens (0 disables)", "0")
    .option("--max-tokens <m>", "maximum new tokens per completion", "128")
    .option("--stop <string>", "stop string (repeatable); it is left out of the text", collect, [])
    .option("--workers <count>", "worker threads (default: 0 for n < 8, else one per core)")
    .option("--json", "print the result as JSON on stdout")
    .action(async (opts: GenerateOptions) => {
      const n = parseBounded("--n", opts.n, { integer: true, min: 1 });
      const seed = parseBounded("--seed", opts.seed, { integer: true });
      const temperature = parseBounded("--temperature", opts.temperature, { min: 0 });
      const topP = parseBounded("--top-p", opts.topP, { min: Number.MIN_VALUE, max: 1 });
      const topK = parseBounded("--top-k", opts.topK, { integer: true, min: 0 });
      const maxTokens = parseBounded("--max-tokens", opts.maxTokens, { integer: true, min: 0 });
      const workers = opts.workers !== undefined ? parseBounded("--workers", opts.workers, { integer: true, min: 0 }) : n < 8 ? 0 : undefined;
      const { EmbeddedEngine } = await import("../../engines/embedded/engine.js");
      const engine = await EmbeddedEngine.load(opts.model, { workers });
      try {
        const prompt = opts.chat ? await engine.applyChatTemplate([{ role: "user", content: opts.prompt }]) : opts.prompt;
        const result = await engine.generate({ prompt, n, seed, temperature, topP, topK, maxTokens, stop: opts.stop });
        if (opts.json) {
          process.stdout.write(JSON.stringify({ model: opts.model, prompt, promptTokens: result.promptTokens, completions: result.completions }, null, 2) + "\n");
        } else {
          for (const c of result.completions) {
            const why =
              c.finishReason === "length"
                ? "length"
                : typeof c.stopReason === "number"
                  ? `stop token ${c.stopReason} ${JSON.stringify(engine.tokenizer.decode([c.stopReason], { skipSpecialTokens: false }))}`
                  : `stop string ${JSON.stringify(c.stopReason)}`;
            process.stdout.write(`--- completion ${c.index} (${c.tokenIds.length} tokens, ${why})\n${c.text}\n`);
          }
        }
      } finally {
        await engine.close();
      }
    });
}
