/**
 * llama-server, Ollama and plain OpenAI dialects against a local server answering in their documented shapes:
 * completions are read (n requests seeded seed + i where the server has no n), scoring is refused with exit-2
 * errors that name an engine that can, and capabilities say so (stage 2 then refuses before any work).
 */
import { afterEach, describe, expect, it } from "vitest";
import { openEngine } from "../../../src/engines/factory.js";
import { UserError } from "../../../src/util/errors.js";
import { replayServer } from "./replay-server.js";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

const gen = { prompt: "Q: 3 + 4? A:", n: 2, seed: 10, temperature: 0.5, topP: 0.9, topK: 0, maxTokens: 4 };
const models = JSON.stringify({ object: "list", data: [{ id: "m", object: "model" }] });

describe("llama-server dialect", () => {
  it("asks /completion once per sample and reads stop types; no prompt scoring", async () => {
    const server = await replayServer((path, body) => {
      if (path === "/v1/models") return { body: models };
      if (path === "/props") return { body: JSON.stringify({ default_generation_settings: { n_ctx: 2048 }, chat_template: "{{ messages }}" }) };
      const seed = body.seed as number;
      return { body: JSON.stringify(seed === 10 ? { content: " 7", tokens: [9, 2], stop_type: "eos", tokens_predicted: 2, tokens_evaluated: 6 } : { content: " seven", tokens: [5, 6, 7, 8], stop_type: "limit", tokens_predicted: 4, tokens_evaluated: 6 }) };
    });
    close = server.close;
    const engine = await openEngine({ kind: "llama-server", model: "unused", baseUrls: [server.url] });
    expect(await engine.generate(gen)).toEqual({
      promptTokens: 6,
      completions: [
        { index: 0, text: " 7", tokenIds: [9, 2], finishReason: "stop" },
        { index: 1, text: " seven", tokenIds: [5, 6, 7, 8], finishReason: "length" },
      ],
    });
    const sent = server.requests.filter((r) => r.path === "/completion").map((r) => r.body as Record<string, unknown>);
    expect(sent.map((b) => b.seed).sort()).toEqual([10, 11]);
    expect(sent[0]).toMatchObject({ prompt: gen.prompt, n_predict: 4, temperature: 0.5, top_p: 0.9 });
    expect(await engine.capabilities()).toEqual({ fullDistributions: false, promptLogprobs: false, maxTopK: 0, prefixReuse: true, maxContextTokens: 2048, chatTemplate: true });
    await expect(engine.score({ prefix: [1], continuations: [[2]], distributions: "none" })).rejects.toThrow(UserError);
  });
});

describe("Ollama dialect", () => {
  it("sends raw prompts to /api/generate with seed + i and takes token ids from context", async () => {
    const server = await replayServer((path, body) => {
      if (path === "/api/tags") return { body: JSON.stringify({ models: [{ name: "qwen3:0.6b" }] }) };
      const seed = (body.options as { seed: number }).seed;
      return { body: JSON.stringify({ model: "qwen3:0.6b", response: seed === 10 ? " 7" : " 8", done: true, done_reason: seed === 10 ? "stop" : "length", context: [1, 2, 3, seed], prompt_eval_count: 3, eval_count: 1 }) };
    });
    close = server.close;
    const engine = await openEngine({ kind: "ollama", model: "unused", baseUrls: [server.url] });
    expect(engine.identity).toEqual({ name: "qwen3:0.6b", engine: "ollama" });
    const r = await engine.generate(gen);
    expect(r.completions).toEqual([
      { index: 0, text: " 7", tokenIds: [10], finishReason: "stop" },
      { index: 1, text: " 8", tokenIds: [11], finishReason: "length" },
    ]);
    expect(server.requests.find((q) => q.path === "/api/generate")!.body).toMatchObject({ model: "qwen3:0.6b", raw: true, stream: false, options: { num_predict: 4, temperature: 0.5 } });
    await expect(engine.tokenize("x")).rejects.toThrow(/Ollama has no tokenize endpoint/);
    expect((await engine.capabilities()).promptLogprobs).toBe(false);
  });
});

describe("plain OpenAI dialect", () => {
  it("reads /v1/completions with n, and refuses what the API cannot do", async () => {
    const server = await replayServer((path) => ({
      body:
        path === "/v1/models"
          ? models
          : JSON.stringify({ choices: [{ index: 1, text: " b", finish_reason: "length", token_ids: [4] }, { index: 0, text: " a", finish_reason: "stop", token_ids: [3] }], usage: { prompt_tokens: 5, completion_tokens: 2 } }),
    }));
    close = server.close;
    const engine = await openEngine({ kind: "openai", model: "unused", baseUrls: [`${server.url}/v1`], servedModelName: "m" });
    expect((await engine.generate(gen)).completions.map((c) => c.text)).toEqual([" a", " b"]);
    expect(server.requests.at(-1)!.body).toMatchObject({ model: "m", n: 2, seed: 10, max_tokens: 4 });
    await expect(engine.score({ prefix: [1], continuations: [[2]], distributions: "none" })).rejects.toThrow(/keyed by token text/);
  });
});
