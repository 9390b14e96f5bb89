import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initTf } from "../../src/model/tf.js";
import { LlamaModel } from "../../src/model/llama.js";
import { checkpointFormatVersion, readCheckpoint, writeCheckpointAtomic } from "../../src/train/checkpoint.js";
import { llamaParameters } from "../../src/train/llama.js";
import { sftObjective } from "../../src/train/sft.js";
import { defaultTrainerConfig, train, TrainerResumeError } from "../../src/train/trainer.js";
import { requireVenvPython, tempDir } from "../helpers.js";
import { keyValueStrings, tinyConfig } from "./tasks.js";

describe("checkpoint files", () => {
  beforeAll(async () => {
    await initTf("wasm");
  });

  const sample = () => ({
    state: { format: checkpointFormatVersion, step: 7, examplesSeen: 56, seed: 3, optimizerStep: 7, fingerprint: { lr: 0.001 } },
    tensors: {
      params: new Map([
        ["a.weight", { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
        ["b", { shape: [1], data: Float32Array.from([-0.5]) }],
      ]),
      adamM: new Map([
        ["a.weight", Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])],
        ["b", Float32Array.from([7])],
      ]),
      adamV: new Map([
        ["a.weight", Float32Array.from([1, 1, 2, 2, 3, 3])],
        ["b", Float32Array.from([8])],
      ]),
    },
  });

  it("round-trips state and tensors exactly, and Python's safetensors reads the file", () => {
    const path = join(tempDir(), "ckpt.safetensors");
    writeCheckpointAtomic(path, sample());
    const back = readCheckpoint(path);
    expect(back.state).toEqual(sample().state);
    expect(Array.from(back.tensors.params.get("a.weight")!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.tensors.params.get("a.weight")!.shape).toEqual([2, 3]);
    expect(Array.from(back.tensors.adamV.get("b")!)).toEqual([8]);
    const py = spawnSync(
      requireVenvPython(),
      ["-c", "import sys,json; from safetensors.numpy import load_file; t=load_file(sys.argv[1]); print(json.dumps({k: v.tolist() for k, v in t.items()}))", path],
      { encoding: "utf8" },
    );
    expect(py.status, py.stderr).toBe(0);
    const tensors = JSON.parse(py.stdout) as Record<string, unknown>;
    expect(tensors["param/a.weight"]).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(tensors["adam_m/b"]).toEqual([7]);
  });

  it("refuses a truncated file with a message naming it", () => {
    const path = join(tempDir(), "ckpt.safetensors");
    writeCheckpointAtomic(path, sample());
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 5));
    expect(() => readCheckpoint(path)).toThrow(/ckpt\.safetensors.*truncated/);
  });

  it("refuses to resume a checkpoint written with other settings, naming the differences", async () => {
    const dir = tempDir();
    const data = keyValueStrings(8, 4, 1);
    const run = async (lr: number): Promise<void> => {
      const model = LlamaModel.random(tinyConfig(), 1);
      await train({
        params: llamaParameters(model),
        objective: sftObjective(model.config),
        examples: data,
        resume: true,
        config: { ...defaultTrainerConfig, steps: 2, batchSize: 4, lr, checkpointPath: join(dir, "c.safetensors"), checkpointEvery: 1 },
      });
      model.dispose();
    };
    await run(1e-3);
    await expect(run(2e-3)).rejects.toThrow(TrainerResumeError);
    await expect(run(2e-3)).rejects.toThrow(/lr: checkpoint 0\.001, now 0\.002/);
  });
});
