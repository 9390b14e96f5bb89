import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModelFolder } from "../../src/model/folder.js";
import { repoRoot, runCli, tempDir } from "../helpers.js";

const fixture = join(repoRoot, "test", "fixtures", "tiny-llama");
const pairs: Array<[string, string]> = [
  ["Q: capital of France? A:", " Paris"],
  ["Q: 2+2? A:", " 4"],
  ["Q: color of sky? A:", " blue"],
  ["Q: opposite of hot? A:", " cold"],
  ["Q: first letter? A:", " A"],
  ["Q: largest planet? A:", " Jupiter"],
  ["Q: water formula? A:", " H2O"],
  ["Q: days in week? A:", " seven"],
];

function writeJsonl(dir: string, rows: unknown[]): string {
  const file = join(dir, "data.jsonl");
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return file;
}

describe("tokensqueeze train-sft", () => {
  it("fine-tunes the tiny fixture on prompt/completion pairs; the written HF folder then answers them greedily", () => {
    const dir = tempDir();
    const data = writeJsonl(
      dir,
      pairs.map(([prompt, completion]) => ({ prompt, completion })),
    );
    const out = join(dir, "out");
    const r = runCli(["train-sft", "--model", fixture, "--data", data, "--out", out, "--steps", "80", "--lr", "1e-2", "--batch-size", "8", "--global-batch-size", "8", "--seed", "1", "--json"], { timeoutMs: 240_000 });
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { steps: number; finalLoss: number; finalAccuracy: number; examples: number };
    expect(summary.steps).toBe(80);
    expect(summary.examples).toBe(8);
    expect(summary.finalAccuracy).toBe(1);
    expect(r.stderr).toMatch(/step 80\/80 loss [\d.]+ accuracy/);
    expect(r.stderr).toMatch(/tok\/s eta/);

    const before = loadModelFolder(fixture);
    const after = loadModelFolder(out);
    expect(after.config).toEqual(before.config);
    expect(after.tokenizer.files.tokenizerJson).toEqual(before.tokenizer.files.tokenizerJson);
    expect(after.weightsSha256).not.toBe(before.weightsSha256);
    for (const [prompt, completion] of [pairs[0], pairs[6]]) {
      const g = runCli(["generate", "--model", out, "--prompt", prompt, "--temperature", "0", "--n", "1", "--max-tokens", "8", "--json"]);
      expect(g.status, g.stderr).toBe(0);
      const text = (JSON.parse(g.stdout) as { completions: Array<{ text: string; finishReason: string }> }).completions[0];
      expect(text.text).toBe(completion);
      expect(text.finishReason).toBe("stop");
    }

    // The checkpoint stays: a second run without --resume is refused (nothing is overwritten) ...
    const again = runCli(["train-sft", "--model", fixture, "--data", data, "--out", out, "--steps", "80", "--lr", "1e-2", "--batch-size", "8", "--global-batch-size", "8", "--seed", "1"]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/--resume/);
    // ... with --resume the finished run is a no-op that writes the same weights ...
    const weights = readFileSync(join(out, "model.safetensors"));
    const resumed = runCli(["train-sft", "--model", fixture, "--data", data, "--out", out, "--steps", "80", "--lr", "1e-2", "--batch-size", "8", "--global-batch-size", "8", "--seed", "1", "--resume", "--json"]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect((JSON.parse(resumed.stdout) as { resumedFromStep: number }).resumedFromStep).toBe(80);
    expect(readFileSync(join(out, "model.safetensors")).equals(weights)).toBe(true);
    // ... and resuming on different data is refused with the reason.
    const otherData = writeJsonl(tempDir(), [{ prompt: "x", completion: " y" }]);
    const mismatch = runCli(["train-sft", "--model", fixture, "--data", otherData, "--out", out, "--steps", "80", "--lr", "1e-2", "--batch-size", "8", "--global-batch-size", "8", "--seed", "1", "--resume"]);
    expect(mismatch.status).toBe(2);
    expect(mismatch.stderr).toMatch(/different run.*data/);
  }, 300_000);

  it("trains on text rows and chat messages (loss on the final assistant turn), with the settings of the run config", () => {
    const dir = tempDir();
    const data = writeJsonl(dir, [
      { text: "hello world" },
      { messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] },
    ]);
    // No training flags: the config file and --set give the step shape; the learning rate is the schema's.
    const configFile = join(dir, "run.yaml");
    writeFileSync(configFile, "training:\n  steps: 3\n  microBatchSize: 1\n");
    const r = runCli(["train-sft", "--model", fixture, "--data", data, "--out", join(dir, "out"), "--config", configFile, "--set", "training.globalBatchSize=2", "--threads", "1", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { examples: number; steps: number };
    expect(summary.examples).toBe(2);
    expect(summary.steps).toBe(3);
    expect(r.stderr).toContain("3 steps of 1×2 examples, lr 0.000005,");
    // A flag is a spelling of its key and wins over the layers below it.
    const flagged = runCli(["train-sft", "--model", fixture, "--data", data, "--out", join(dir, "out2"), "--config", configFile, "--steps", "1", "--lr", "0.001", "--threads", "1", "--json"]);
    expect(flagged.status, flagged.stderr).toBe(0);
    expect(flagged.stderr).toContain("1 steps of 1×128 examples, lr 0.001,");
  });

  it("rejects bad rows naming file, line and field (exit 2)", () => {
    const dir = tempDir();
    const file = join(dir, "bad.jsonl");
    writeFileSync(file, [JSON.stringify({ prompt: "a", completion: "b" }), "", JSON.stringify({ prompt: "c" })].join("\n"));
    const r = runCli(["train-sft", "--model", fixture, "--data", file, "--out", join(dir, "out")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:3: field "completion": missing`);
    writeFileSync(file, JSON.stringify({ messages: [{ role: "user", content: "hi" }] }) + "\n");
    const r2 = runCli(["train-sft", "--model", fixture, "--data", file, "--out", join(dir, "out")]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain(`${file}:1: field "messages[0].role": the last message must be the assistant's`);
    const r3 = runCli(["train-sft", "--model", fixture, "--data", file, "--out", join(dir, "out"), "--batch-size", "0"]);
    expect(r3.status).toBe(2);
    expect(r3.stderr).toMatch(/--batch-size/);
  });
});
