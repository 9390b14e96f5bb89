/** Token ids from our tokenizer (JS) equal Python `tokenizers`' on varied text, for two byte-level BPE setups. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ModelTokenizer } from "../../src/model/tokenizer.js";
import { sharedData, tempDir } from "../helpers.js";
import { runReference, tinyLlamaDir } from "./reference.js";

function variedTexts(): string[] {
  const math = readFileSync(join(sharedData, "math500", "test.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(0, 60)
    .map((l) => (JSON.parse(l) as { problem: string }).problem);
  return [
    "",
    " ",
    "Hello world",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\nmixed\n\n\nblank lines",
    "naïve café — Zoë & José: ∑ x² ≤ 1, ∫₀¹ f(x) dx",
    "数学问题：求解方程 x² + 2x + 1 = 0。",
    "emoji 🙂👍🏽 family 👨‍👩‍👧 flags 🇩🇪",
    "Ελληνικά, русский, العربية, עברית, हिन्दी",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "don't won't I'm we'll they've she'd IT'S",
    "\\boxed{\\frac{1}{2}} and $x^{10}$ and 1234567890",
    "<|endoftext|>text after a special token<|im_end|>",
    "\u0000control\u0007chars\u001b[0m",
    "a".repeat(300),
    ...math,
  ];
}

async function checkAgainstPython(tokenizerFile: string, configFile: string | null): Promise<void> {
  const dir = tempDir();
  const tok = new ModelTokenizer({
    tokenizerJson: JSON.parse(readFileSync(tokenizerFile, "utf8")) as Record<string, unknown>,
    tokenizerConfig: configFile ? (JSON.parse(readFileSync(configFile, "utf8")) as Record<string, unknown>) : {},
  });
  const texts = variedTexts();
  const ours = texts.map((t) => tok.encode(t));
  // Decode: our own encodings, plus arbitrary id runs (which may split multi-byte characters).
  const idRuns = [...ours.filter((x) => x.length > 0), Array.from({ length: 200 }, (_, i) => (i * 37) % tok.size)];
  writeFileSync(join(dir, "in.json"), JSON.stringify({ texts, ids: idRuns }));
  await runReference("tokenizer_reference.py", ["encode", "--tokenizer", tokenizerFile, "--input", join(dir, "in.json"), "--out", join(dir, "out.json")]);
  const ref = JSON.parse(readFileSync(join(dir, "out.json"), "utf8")) as { encoded: number[][]; decoded: string[] };
  expect(ref.encoded.length).toBe(texts.length);
  expect(ref.decoded.length).toBe(idRuns.length);
  texts.forEach((t, i) => expect(ours[i], `text ${i}: ${JSON.stringify(t.slice(0, 40))}`).toEqual(ref.encoded[i]));
  idRuns.forEach((ids, i) => {
    expect(tok.decode(ids), `decode ${i}`).toEqual(ref.decoded[i]);
    // The streaming decoder (used while generating) ends with the same text as a full decode.
    const s = tok.streamDecoder();
    for (const id of ids) s.push(id);
    if (!ref.decoded[i].endsWith("\uFFFD")) expect(s.text).toEqual(ref.decoded[i]);
  });
}

describe("tokenizer parity with Python tokenizers", () => {
  it("tiny-llama's byte-level BPE (ByteLevel pre-tokenizer) gives identical ids and text", async () => {
    await checkAgainstPython(join(tinyLlamaDir, "tokenizer.json"), join(tinyLlamaDir, "tokenizer_config.json"));
  });

  it("a Qwen/Llama-3 style tokenizer (Split regex + ByteLevel, BOS post-processor) gives identical ids and text", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "corpus.json"), JSON.stringify({ texts: variedTexts() }));
    await runReference("tokenizer_reference.py", ["make-split", "--input", join(dir, "corpus.json"), "--out", join(dir, "tokenizer.json")]);
    await checkAgainstPython(join(dir, "tokenizer.json"), null);
  });
});
