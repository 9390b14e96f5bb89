/**
 * `tokensqueeze serve --model <folder> [--port 8000] [--host 127.0.0.1] [--api-key-env VAR]`: the embedded
 * engine behind a vLLM-compatible API (src/serve/). Defaults are the ServeSchema's (src/config/schema.ts).
 */
import type { Command } from "commander";
import { ServeSchema } from "../../config/schema.js";
import { UserError } from "../../util/errors.js";
import { parseBounded } from "../options.js";

interface ServeFlags {
  model?: string;
  servedModel?: string;
  host?: string;
  port?: string;
  apiKeyEnv?: string;
  insecure?: boolean;
  maxBodyBytes?: string;
  maxLogprobs?: string;
  workers?: string;
}

export function register(program: Command): void {
  const d = ServeSchema.parse({});
  program
    .command("serve")
    .description("serve a model folder with the embedded engine behind a vLLM-compatible API (/v1/completions, /tokenize, /detokenize, /v1/models, /health, /metrics)")
    .option("--model <folder>", `model folder (default ${d.model})`)
    .option("--served-model <name>", "the model name clients send (default: --model as given)")
    .option("--host <address>", `listening address (default ${d.host}); another than loopback needs --api-key-env or --insecure`)
    .option("--port <n>", `listening port, 0 picks a free one (default ${d.port})`)
    .option("--api-key-env <VAR>", "environment variable holding the key clients must send as Authorization: Bearer <key>")
    .option("--insecure", "allow a non-loopback --host without an API key")
    .option("--max-body-bytes <n>", `larger request bodies are refused with 413 (default ${d.maxBodyBytes})`)
    .option("--max-logprobs <k>", `largest logprobs / prompt_logprobs per position; -1 allows the whole vocabulary (default ${d.maxLogprobs})`)
    .option("--workers <n>", "embedded engine worker threads (default: one per core, at most 8)")
    .action(async (flags: ServeFlags) => {
      const parsed = ServeSchema.safeParse({
        model: flags.model,
        servedModelName: flags.servedModel,
        host: flags.host,
        port: flags.port !== undefined ? parseBounded("--port", flags.port, { integer: true, min: 0, max: 65535 }) : undefined,
        apiKeyEnv: flags.apiKeyEnv,
        insecure: flags.insecure,
        maxBodyBytes: flags.maxBodyBytes !== undefined ? parseBounded("--max-body-bytes", flags.maxBodyBytes, { integer: true, min: 1 }) : undefined,
        maxLogprobs: flags.maxLogprobs !== undefined ? parseBounded("--max-logprobs", flags.maxLogprobs, { integer: true, min: -1 }) : undefined,
        workers: flags.workers !== undefined ? parseBounded("--workers", flags.workers, { integer: true, min: 0 }) : undefined,
      });
      if (!parsed.success) throw new UserError(`serve: ${parsed.error.issues[0].path.join(".")}: ${parsed.error.issues[0].message}`);
      const { serveUntilSignalled } = await import("../../serve/run.js");
      await serveUntilSignalled(parsed.data, (h) => {
        process.stdout.write(`tokensqueeze serve: ${h.model.name} at ${h.url} (vLLM-compatible: ${h.url}/v1/completions)\n`);
      });
    });
}
