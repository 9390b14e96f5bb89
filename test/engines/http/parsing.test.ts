/**
 * The vLLM and SGLang dialects read responses in the documented shapes (test/fixtures/http/, written from
 * ../shared/docs/ENGINES.md) served by a real local HTTP server, and send the documented request fields.
 */
import { afterEach, describe, expect, it } from "vitest";
import { openEngine } from "../../../src/engines/factory.js";
import type { HttpEngine } from "../../../src/engines/http/engine.js";
import { VllmCompletionResponseSchema } from "../../../src/engines/http/schemas/vllm.js";
import { readPromptLogprobs } from "../../../src/engines/http/vllm.js";
import { fixture, replayServer } from "./replay-server.js";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** What both fixtures encode for prefix [1, 15, 27] and continuations [40, 41] and [50] with k = 2. */
const expectedScores = [
  { tokenIds: [40, 41], logprobs: [-0.5, -4.0], topLogprobs: [[[40, -0.5], [7, -1.25]], [[2, -0.25], [5, -2.0]]] },
  // -9999.0 is vLLM's (and SGLang's) JSON for -inf.
  { tokenIds: [50], logprobs: [-Infinity], topLogprobs: [[[3, -0.0625], [9, -3.0]]] },
];
const scoreRequest = { prefix: [1, 15, 27], continuations: [[40, 41], [50]], distributions: "topk" as const, topK: 2 };
const generateRequest = { prompt: [1, 15, 27], seed: 5, temperature: 0.6, topP: 0.95, topK: 0, maxTokens: 4 };

describe("vLLM dialect on recorded responses", () => {
  it("reads prompt_logprobs (null first entry, top-k keyed by id with ranks, own token outside the top-k, -9999.0)", async () => {
    const server = await replayServer((path, body) => ({ body: path === "/v1/models" ? fixture("vllm-models.json") : body.prompt_logprobs != null ? fixture("vllm-score-prompt-logprobs.json") : fixture("vllm-generate-n3.json") }));
    close = server.close;
    const engine = (await openEngine({ kind: "vllm", model: "unused", baseUrls: [server.url + "/v1/"] })) as HttpEngine;
    expect(engine.identity).toEqual({ name: "Qwen/Qwen2.5-0.5B", engine: "vllm" });

    const scored = await engine.score(scoreRequest);
    expect(scored).toEqual({ prefixTokens: 3, continuations: expectedScores });
    const sent = server.requests.find((r) => r.path === "/v1/completions")!.body;
    expect(sent).toMatchObject({ model: "Qwen/Qwen2.5-0.5B", prompt: [[1, 15, 27, 40, 41], [1, 15, 27, 50]], max_tokens: 1, prompt_logprobs: 2 });

    const generated = await engine.generate({ ...generateRequest, n: 3 });
    // Choices come back out of order; n > 1 counts usage over all of them.
    expect(generated).toEqual({
      promptTokens: 3,
      completions: [
        { index: 0, text: " 7.", tokenIds: [40, 6, 2], finishReason: "stop" },
        { index: 1, text: " seven and", tokenIds: [88, 19, 21, 23], finishReason: "length" },
        { index: 2, text: " 7\n", tokenIds: [40, 13], finishReason: "stop", stopReason: "\n\n" },
      ],
    });
    expect(server.requests.at(-1)!.body).toMatchObject({ prompt: [1, 15, 27], n: 3, seed: 5, temperature: 0.6, top_p: 0.95, top_k: -1, max_tokens: 4, return_token_ids: true });
    expect(engine.usage()).toMatchObject({ promptTokens: 9 + 3, completionTokens: 2 + 9, requests: 2, retries: 0 });
  });

  it("parses an echo + logprobs answer (first token's logprob null) and reads its prompt_logprobs", () => {
    const res = VllmCompletionResponseSchema.parse(JSON.parse(fixture("vllm-echo-logprobs.json")));
    expect(res.choices[0].logprobs?.token_logprobs).toEqual([null, -0.125, -0.5]);
    expect(readPromptLogprobs(res.choices[0].prompt_logprobs ?? null, 1, [27], "none", undefined)).toEqual({ tokenIds: [27], logprobs: [-0.125] });
  });

  it("says what is wrong with a response it cannot use", async () => {
    const entries = JSON.parse(fixture("vllm-score-prompt-logprobs.json")).choices[1].prompt_logprobs;
    expect(() => readPromptLogprobs(entries, 3, [51], "none", undefined)).toThrow(/prompt_logprobs\[3\] lacks the prompt's own token 51/);
    expect(() => readPromptLogprobs(entries, 0, [15], "none", undefined)).toThrow(/prompt_logprobs\[0\] is null/);
    const server = await replayServer((path) => ({ body: path === "/v1/models" ? fixture("vllm-models.json") : '{"choices": {"index": 0}}' }));
    close = server.close;
    const engine = await openEngine({ kind: "vllm", model: "unused", baseUrls: [server.url] });
    await expect(engine.generate({ ...generateRequest, n: 1 })).rejects.toThrow(/\/v1\/completions: unexpected response: choices: /);
    // A shape error is the server's way of answering, not a transient fault: not retried.
    expect(server.requests.filter((r) => r.path === "/v1/completions")).toHaveLength(1);
  });
});

describe("SGLang dialect on recorded responses", () => {
  it("reads input_token_logprobs / input_top_logprobs triples from logprob_start_len, and n > 1 generations", async () => {
    const server = await replayServer((path, body) => ({
      body: path === "/v1/models" ? fixture("vllm-models.json") : body.return_logprob ? fixture("sglang-score.json") : fixture("sglang-generate-n2.json"),
    }));
    close = server.close;
    const engine = (await openEngine({ kind: "sglang", model: "unused", baseUrls: [server.url] })) as HttpEngine;
    expect(await engine.score(scoreRequest)).toEqual({ prefixTokens: 3, continuations: expectedScores });
    expect(server.requests.find((r) => r.path === "/generate")!.body).toEqual({
      input_ids: [[1, 15, 27, 40, 41], [1, 15, 27, 50]],
      sampling_params: { max_new_tokens: 0, temperature: 0 },
      return_logprob: true,
      logprob_start_len: 3,
      top_logprobs_num: 2,
    });
    const generated = await engine.generate({ ...generateRequest, n: 2 });
    expect(generated).toEqual({
      promptTokens: 3,
      completions: [
        { index: 0, text: " 7.", tokenIds: [40, 6, 2], finishReason: "stop", stopReason: 2 },
        { index: 1, text: " seven and", tokenIds: [88, 19, 21, 23], finishReason: "length" },
      ],
    });
    expect(server.requests.at(-1)!.body).toMatchObject({ input_ids: [1, 15, 27], sampling_params: { n: 2, sampling_seed: 5, max_new_tokens: 4, top_k: -1 } });
    expect(engine.usage()).toMatchObject({ promptTokens: 5 + 4 + 3, completionTokens: 7 });
  });
});
