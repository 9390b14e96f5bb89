/** The EmbeddedEngine through the project's Engine interface, on the committed tiny-llama fixture. */
import { cpSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerateRequest } from "../../src/engines/engine.js";
import { EmbeddedEngine } from "../../src/engines/embedded/engine.js";
import { loadModelFolder } from "../../src/model/folder.js";
import { InputError, UserError } from "../../src/util/errors.js";
import { tempDir } from "../helpers.js";
import { tinyLlamaDir } from "../model/reference.js";

let threaded: EmbeddedEngine;
let inThread: EmbeddedEngine;
let chatPrompt: string;

beforeAll(async () => {
  threaded = await EmbeddedEngine.load(tinyLlamaDir, { workers: 2 });
  inThread = await EmbeddedEngine.load(tinyLlamaDir, { workers: 0 });
  chatPrompt = await threaded.applyChatTemplate([{ role: "user", content: "Ana has 3 apples and finds 4 more. How many apples now?" }]);
});

afterAll(async () => {
  await threaded?.close();
  await inThread?.close();
});

const sampling = { temperature: 1, topP: 0.95, topK: 50, maxTokens: 40 };

describe("EmbeddedEngine", () => {
  it("reports its capabilities", async () => {
    const caps = await threaded.capabilities();
    expect(caps).toMatchObject({ fullDistributions: true, prefixReuse: true, promptLogprobs: true, chatTemplate: true, maxContextTokens: 512 });
    expect(threaded.identity.engine).toBe("embedded");
    expect(threaded.identity.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("tokenizes, detokenizes and renders the chat template", async () => {
    const ids = await threaded.tokenize("Bo has 12 marbles.");
    expect(ids.length).toBeGreaterThan(2);
    expect(await threaded.detokenize(ids)).toBe("Bo has 12 marbles.");
    expect(chatPrompt).toBe("<|im_start|>user\nAna has 3 apples and finds 4 more. How many apples now?<|im_end|>\n<|im_start|>assistant\n");
    expect(await threaded.applyChatTemplate([{ role: "user", content: "x" }], { addGenerationPrompt: false })).toBe("<|im_start|>user\nx<|im_end|>\n");
  });

  it("gives the same samples for a request alone or among 32 concurrent requests, with or without workers", async () => {
    const target: GenerateRequest = { prompt: chatPrompt, n: 6, seed: 1234, ...sampling };
    const alone = await threaded.generate(target);
    const others = Array.from({ length: 31 }, (_, i): GenerateRequest => ({ prompt: i % 2 ? chatPrompt : `What is ${i} times ${i + 1}?`, n: 1 + (i % 5), seed: i, ...sampling }));
    const mixed = await Promise.all([...others.slice(0, 15).map((r) => threaded.generate(r)), threaded.generate(target), ...others.slice(15).map((r) => threaded.generate(r))]);
    expect(mixed[15]).toEqual(alone);
    const local = await inThread.generate(target);
    expect(local).toEqual(alone);
    // Completion i depends on (seed, i) only: the first 3 of n = 6 equal n = 3.
    const three = await inThread.generate({ ...target, n: 3 });
    expect(three.completions).toEqual(alone.completions.slice(0, 3));
    // Different seeds differ, and sampling is not degenerate.
    const other = await threaded.generate({ ...target, seed: 99 });
    expect(other.completions.map((c) => c.text)).not.toEqual(alone.completions.map((c) => c.text));
    expect(new Set(alone.completions.map((c) => c.text)).size).toBeGreaterThan(1);
    expect(alone.promptTokens).toBe((await threaded.tokenize(chatPrompt)).length);
  });

  it("ends on EOS, stop strings, stop tokens and max tokens with the right finish reasons", async () => {
    const greedy = { prompt: chatPrompt, n: 1, seed: 0, temperature: 0, topP: 1, topK: 0, maxTokens: 100 };
    const [free] = (await threaded.generate(greedy)).completions;
    expect(free.finishReason).toBe("stop");
    expect(threaded.folder.eosTokenIds).toContain(free.stopReason);
    expect(free.text).toContain("The answer is");
    expect(await threaded.detokenize(free.tokenIds)).toBe(free.text);

    const [stopped] = (await threaded.generate({ ...greedy, stop: ["zzz", "answer is"] })).completions;
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.stopReason).toBe("answer is");
    expect(stopped.text).toBe(free.text.slice(0, free.text.indexOf("answer is")));
    // The tokens wholly inside the stop string are dropped; the kept tokens decode to at least the text.
    const keptText = await threaded.detokenize(stopped.tokenIds);
    expect(keptText.startsWith(stopped.text)).toBe(true);
    expect(keptText.includes("answer is")).toBe(false);

    const third = free.tokenIds[2];
    const firstAt = free.tokenIds.indexOf(third);
    const [byToken] = (await threaded.generate({ ...greedy, stopTokenIds: [third] })).completions;
    expect(byToken).toMatchObject({ finishReason: "stop", stopReason: third, tokenIds: free.tokenIds.slice(0, firstAt) });

    const [short] = (await threaded.generate({ ...greedy, maxTokens: 5 })).completions;
    expect(short.finishReason).toBe("length");
    expect(short.tokenIds).toEqual(free.tokenIds.slice(0, 5));
    const [none] = (await threaded.generate({ ...greedy, maxTokens: 0 })).completions;
    expect(none).toMatchObject({ finishReason: "length", tokenIds: [], text: "" });
  });

  it("scores continuations after a shared prefix, the same with and without workers", async () => {
    const prefix = chatPrompt + "<think>\n";
    const continuations = ["3 + 4 = 7. The answer is 7.", "3 + 4 = 8.", "", "7"];
    const req = { prefix, continuations, distributions: "full" as const };
    const a = await threaded.score(req);
    const b = await inThread.score(req);
    expect(a).toEqual(b);
    expect(a.prefixTokens).toBe((await threaded.tokenize(prefix)).length);
    a.continuations.forEach((c, i) => {
      expect(c.tokenIds).toEqual(continuations[i] === "" ? [] : loadIds(continuations[i]));
      expect(c.logprobs).toHaveLength(c.tokenIds.length);
      c.fullLogprobs!.forEach((dist, j) => {
        expect(dist).toHaveLength(512);
        const mass = Array.from(dist).reduce((s, x) => s + Math.exp(x), 0);
        expect(Math.abs(mass - 1)).toBeLessThan(1e-4);
        expect(dist[c.tokenIds[j]]).toBeCloseTo(c.logprobs[j], 6);
      });
    });
    // The trained fixture prefers the right sum.
    const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);
    expect(sum(a.continuations[0].logprobs.slice(0, 6))).toBeGreaterThan(sum(a.continuations[1].logprobs.slice(0, 6)));
    const top = await threaded.score({ prefix, continuations: continuations.slice(0, 1), distributions: "topk", topK: 3, window: 4 });
    expect(top.continuations[0].tokenIds).toHaveLength(4);
    expect(top.continuations[0].topLogprobs![0]).toHaveLength(3);
    expect(top.continuations[0].fullLogprobs).toBeUndefined();
  });

  it("rejects bad requests with user errors", async () => {
    await expect(threaded.generate({ prompt: "", n: 1, seed: 0, ...sampling })).rejects.toBeInstanceOf(UserError);
    await expect(threaded.generate({ prompt: "x", n: 0, seed: 0, ...sampling })).rejects.toThrow(/n must be/);
    await expect(threaded.generate({ prompt: [9999], n: 1, seed: 0, ...sampling })).rejects.toThrow(/outside the vocabulary/);
    await expect(threaded.score({ prefix: "", continuations: ["a"], distributions: "none" })).rejects.toThrow(/prefix has no tokens/);
  });
});

function loadIds(text: string): number[] {
  return loadModelFolder(tinyLlamaDir).tokenizer.encode(text);
}

describe("model folder errors", () => {
  it("names the missing folder, file or bad field", async () => {
    await expect(EmbeddedEngine.load("/nonexistent/model")).rejects.toThrow(/does not exist/);
    const dir = tempDir();
    cpSync(tinyLlamaDir, dir, { recursive: true });
    rmSync(join(dir, "tokenizer.json"));
    expect(() => loadModelFolder(dir)).toThrow(/tokenizer\.json: file missing/);
    cpSync(tinyLlamaDir, dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "llama", hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 512 }));
    let err: unknown;
    try {
      loadModelFolder(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/config\.json: field "intermediate_size": missing/);
    writeFileSync(join(dir, "config.json"), "{ not json");
    expect(() => loadModelFolder(dir)).toThrow(`${join(dir, "config.json")}:1: malformed JSON at column 3: expected a quoted key, got "n"`);
    cpSync(tinyLlamaDir, dir, { recursive: true });
    writeFileSync(join(dir, "model.safetensors"), Buffer.alloc(4));
    expect(() => loadModelFolder(dir)).toThrow(/model\.safetensors: too short/);
  });
});
