import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ChatTemplate } from "../../src/model/chat.js";
import { loadModelFolder } from "../../src/model/folder.js";
import { readSftJsonl } from "../../src/train/sft-data.js";
import { repoRoot, tempDir } from "../helpers.js";

const folder = loadModelFolder(join(repoRoot, "test", "fixtures", "tiny-llama"));
const tok = folder.tokenizer;
const chat = new ChatTemplate(folder.chatTemplate!, tok.files.tokenizerConfig);

function dataset(rows: unknown[], maxLength = 512) {
  const file = join(tempDir(), "d.jsonl");
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n"));
  return readSftJsonl(file, { tokenizer: tok, eosTokenId: 2, chat, maxLength });
}

describe("SFT data", () => {
  it("masks the prompt and trains on completion + EOS; text rows train on everything", () => {
    const d = dataset([{ prompt: "Q: hi A:", completion: " yes" }, { text: "plain text" }]);
    const p = tok.encode("Q: hi A:", { addSpecialTokens: true });
    const c = tok.encode(" yes", { addSpecialTokens: false });
    expect(d.examples[0].ids).toEqual([...p, ...c, 2]);
    expect(d.examples[0].lossMask).toEqual([...p.map(() => 0), ...c.map(() => 1), 1]);
    expect(d.examples[1].ids).toEqual([...tok.encode("plain text"), 2]);
    expect(d.examples[1].lossMask).toBeUndefined();
  });

  it("renders chat messages with the template and trains on the final assistant turn only", () => {
    const d = dataset([{ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] }]);
    const { ids, lossMask } = d.examples[0];
    const target = ids.filter((_, i) => lossMask![i] === 1);
    expect(tok.decode(target, { skipSpecialTokens: false })).toBe("hello<|im_end|>\n");
    expect(tok.decode(ids.filter((_, i) => lossMask![i] === 0), { skipSpecialTokens: false })).toBe("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  });

  it("cuts long rows to maxLength, skips rows left without targets, and fingerprints the token content", () => {
    const d = dataset([{ prompt: "a", completion: " b c d e f g" }, { prompt: "a b c d e f g h", completion: " x" }], 4);
    expect(d.truncated).toBe(2);
    expect(d.dropped).toBe(1);
    expect(d.examples).toHaveLength(1);
    expect(d.examples[0].ids).toHaveLength(4);
    expect(d.examples[0].lossMask).toEqual([0, 1, 1, 1]);
    expect(dataset([{ prompt: "x", completion: " y" }]).fingerprint).not.toBe(dataset([{ prompt: "x", completion: " z" }]).fingerprint);
  });
});
