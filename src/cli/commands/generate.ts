/**
 * `tokensqueeze generate --prompt TEXT [--model <folder>]`: sample completions from a model (seeded: the same
 * command prints the same completions).
 *
 * The model and the sampling settings are the run configuration's (preset → --config → --set → flags), read
 * from the `evaluation` section: `generate` is for looking at what a model says, and what a user then wants to
 * know is what the evaluation would have seen — so --n, --temperature, --top-p and --max-tokens default to
 * evaluation.samples / temperature / topP / maxTokens (16, 0.6, 0.95, 32768: METHOD.md's evaluation settings)
 * and --seed to the run seed. Completions also stop at the model's context, which is said before sampling.
 */
import type { Command } from "commander";
import { UserError } from "../../util/errors.js";
import { collect, parseBounded } from "../options.js";
import { addRunFlags, resolveRunConfig, type RunFlags } from "../run-flags.js";

interface GenerateOptions extends RunFlags {
  prompt: string;
  chat?: boolean;
  n?: string;
  temperature?: string;
  topP?: string;
  topK: string;
  maxTokens?: string;
  stop: string[];
  workers?: string;
  json?: boolean;
}

export function register(program: Command): void {
  addRunFlags(
    program
      .command("generate")
      .description("sample completions from a model (embedded engine by default); sampling settings default to the config's evaluation section")
      .requiredOption("--prompt <text>", "prompt text")
      .option("--chat", "wrap the prompt as a user message with the model's chat template")
      .option("--n <count>", "number of completions (config evaluation.samples)")
      .option("--temperature <t>", "sampling temperature, 0 = greedy (config evaluation.temperature)")
      .option("--top-p <p>", "nucleus sampling threshold, 1 disables it (config evaluation.topP)")
      .option("--top-k <k>", "keep the k most likely tokens (0 disables)", "0")
      .option("--max-tokens <m>", "maximum new tokens per completion (config evaluation.maxTokens); completions also stop at the model's context")
      .option("--stop <string>", "stop string (repeatable); it is left out of the text", collect, [])
      .option("--workers <count>", "embedded engine worker threads (default: 0 for n < 8, else one per core)"),
  )
    .option("--json", "print the result as JSON on stdout")
    .action(async (opts: GenerateOptions) => {
      const n = opts.n !== undefined ? parseBounded("--n", opts.n, { integer: true, min: 1 }) : undefined;
      const topK = parseBounded("--top-k", opts.topK, { integer: true, min: 0 });
      // `--prompt` here is the text, not a prompt preset, so it is not passed on as a sampling flag.
      const config = await resolveRunConfig(
        { ...runFlagsOf(opts), temperature: opts.temperature, topP: opts.topP, maxTokens: opts.maxTokens },
        { sampling: "evaluation", extra: () => (n !== undefined ? { "evaluation.samples": n } : {}) },
      );
      const { samples, temperature, topP, maxTokens } = config.evaluation;
      const workers = opts.workers !== undefined ? parseBounded("--workers", opts.workers, { integer: true, min: 0 }) : samples < 8 ? 0 : undefined;
      const { openEngine } = await import("../../engines/factory.js");
      const engine = await openEngine(config.engine, { workers });
      try {
        const prompt = opts.chat ? await engine.applyChatTemplate([{ role: "user", content: opts.prompt }]) : opts.prompt;
        const context = (await engine.capabilities()).maxContextTokens;
        const promptTokens = (await engine.tokenize(prompt)).length;
        if (promptTokens >= context) throw new UserError(`--prompt: the prompt has ${promptTokens} tokens and the model's context is ${context}: no room to generate`);
        if (maxTokens > context - promptTokens) {
          process.stderr.write(`warning: --max-tokens ${maxTokens} does not fit the model's context of ${context} tokens after the ${promptTokens}-token prompt: completions stop at ${context - promptTokens} new tokens\n`);
        }
        const result = await engine.generate({ prompt, n: samples, seed: config.seed, temperature, topP, topK, maxTokens, stop: opts.stop });
        if (opts.json) {
          const model = config.engine.servedModelName ?? config.engine.model;
          process.stdout.write(JSON.stringify({ model, prompt, promptTokens: result.promptTokens, completions: result.completions }, null, 2) + "\n");
        } else {
          for (const c of result.completions) {
            const why =
              c.finishReason === "length"
                ? "length"
                : typeof c.stopReason === "number"
                  ? `stop token ${c.stopReason} ${JSON.stringify(await engine.detokenize([c.stopReason], { skipSpecialTokens: false }))}`
                  : `stop string ${JSON.stringify(c.stopReason)}`;
            process.stdout.write(`--- completion ${c.index} (${c.tokenIds.length} tokens, ${why})\n${c.text}\n`);
          }
        }
      } finally {
        await engine.close();
      }
    });
}

/** Only the run flags of generate's options (its own --prompt would be misread as the prompt-preset flag). */
function runFlagsOf(opts: RunFlags): RunFlags {
  const { preset, config, set, engine, model, baseUrl, servedModel, concurrency, seed, dataDir } = opts;
  return { preset, config, set, engine, model, baseUrl, servedModel, concurrency, seed, dataDir };
}
