/**
 * The committed world model (models/world-base): it loads in the embedded engine and in Python transformers,
 * both read its tokenizer identically (ids on real traces in both prompt formats), render the same chat
 * template, and compute the same log-probabilities.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedEngine } from "../../src/engines/embedded/engine.js";
import { chatUserMessage, paperPrompt } from "../../src/sampling/prompts.js";
import { loadModelFolder } from "../../src/model/folder.js";
import { generateProblem, heldoutProblems } from "../../src/world/expression.js";
import { generateTrace, paperResponse } from "../../src/world/traces.js";
import { repoRoot, requireVenvPython } from "../helpers.js";

const modelDir = join(repoRoot, "models", "world-base");

function reference<T>(request: Record<string, unknown>): T {
  const r = spawnSync(requireVenvPython(), [join(repoRoot, "test", "world", "reference.py")], {
    input: JSON.stringify({ model: modelDir, ...request }),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`reference.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

function sampleTexts(): string[] {
  const texts: string[] = [];
  for (let level = 1; level <= 5; level++)
    for (let i = 0; i < 6; i++) {
      const p = generateProblem("train", level, 11, i);
      const t = generateTrace(p, 11, i);
      texts.push(t.response, paperResponse(t), chatUserMessage(p.question), paperPrompt(p.question).prompt);
    }
  texts.push("<|user|>Compute 2+3.<|assistant|><think>\n2+3=5.\n</think>\n\nThe answer is \\boxed{5}.<|end|>", "  odd   spacing\t\tand ünïcödé 12345 ", "");
  return texts;
}

describe("models/world-base", () => {
  it("is a small HF Llama folder (≤ 20 MB) with the files both runtimes need", () => {
    const files = readdirSync(modelDir);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "README.md"]) expect(files).toContain(f);
    const bytes = files.reduce((a, f) => a + statSync(join(modelDir, f)).size, 0);
    expect(bytes).toBeLessThan(20 * 1024 * 1024);
    const folder = loadModelFolder(modelDir);
    expect(folder.chatTemplate).not.toBeNull();
    expect(folder.eosTokenIds.length).toBeGreaterThan(0);
  });

  it("tokenizes like Python tokenizers and transformers, digits one token each", () => {
    const tok = loadModelFolder(modelDir).tokenizer;
    const texts = sampleTexts();
    const ref = reference<{ tokenizers: number[][]; transformers: number[][]; decoded: string[] }>({ op: "tokenize", texts });
    texts.forEach((t, i) => {
      const ids = tok.encode(t, { addSpecialTokens: false });
      expect(ids, JSON.stringify(t)).toEqual(ref.tokenizers[i]);
      expect(ids).toEqual(ref.transformers[i]);
      expect(tok.decode(ids, { skipSpecialTokens: false })).toBe(ref.decoded[i]);
    });
    for (const d of "0123456789") expect(tok.encode(`${d}${d}${d}`, { addSpecialTokens: false })).toHaveLength(3);
    expect(tok.encode("<think>\n", { addSpecialTokens: false })[0]).toBe(tok.tokenToId("<think>"));
  });

  describe("in the embedded engine", () => {
    let engine: EmbeddedEngine;
    beforeAll(async () => {
      engine = await EmbeddedEngine.load(modelDir, { workers: 0 });
    });
    afterAll(async () => {
      await engine?.close();
    });

    it("renders the chat template as transformers does", async () => {
      const messages = [{ role: "user" as const, content: chatUserMessage("Compute (17+25)*3-8.") }];
      const ref = reference<{ text: string }>({ op: "chat", messages });
      expect(await engine.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(ref.text);
    });

    it("gives the log-probabilities transformers gives", async () => {
      const p = heldoutProblems(1)[3];
      const prompt = await engine.applyChatTemplate([{ role: "user", content: chatUserMessage(p.question) }], { addGenerationPrompt: true });
      const prefix = await engine.tokenize(prompt, { addSpecialTokens: false });
      const continuation = await engine.tokenize(generateTrace(p, 1, 0).response, { addSpecialTokens: false });
      const ours = await engine.score({ prefix, continuations: [continuation], distributions: "none" });
      const ref = reference<{ logprobs: number[] }>({ op: "logprobs", prefix, continuation });
      const got = ours.continuations[0].logprobs;
      expect(got).toHaveLength(ref.logprobs.length);
      const maxDiff = Math.max(...got.map((x, i) => Math.abs(x - ref.logprobs[i])));
      expect(maxDiff).toBeLessThan(2e-3);
    });

    it("answers a held-out problem in the R1 format", async () => {
      const p = heldoutProblems(1)[0];
      const prompt = await engine.applyChatTemplate([{ role: "user", content: chatUserMessage(p.question) }], { addGenerationPrompt: true });
      const r = await engine.generate({ prompt, n: 2, seed: 1, temperature: 0.6, topP: 0.95, topK: 0, maxTokens: 400 });
      for (const c of r.completions) {
        expect(c.finishReason).toBe("stop");
        expect(c.text).toMatch(/^<think>\n[\s\S]+\n<\/think>\n\nThe answer is \\boxed\{\d+\}\.$/);
      }
    });
  });
});
