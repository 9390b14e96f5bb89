import * as tf from "@tensorflow/tfjs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { AdamW, type NamedParameter } from "../../src/train/adamw.js";
import { clipByGlobalNorm } from "../../src/train/clip.js";
import { Rng } from "../../src/util/rng.js";
import { repoRoot, requireVenvPython } from "../helpers.js";
import { useWasmBackend } from "./tfjs-setup.js";

interface ReferenceStep {
  norm: number | null;
  params: Record<string, number[]>;
  m: Record<string, number[]>;
  v: Record<string, number[]>;
}

function randomArray(rng: Rng, n: number, scale: number): number[] {
  return Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function runTorchReference(spec: unknown): ReferenceStep[] {
  const python = requireVenvPython();
  const res = spawnSync(python, [join(repoRoot, "test", "reference", "adamw_train_reference.py")], {
    input: JSON.stringify(spec),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, OMP_NUM_THREADS: "1" },
  });
  if (res.status !== 0) throw new Error(`torch reference failed (exit ${res.status}): ${res.stderr}`);
  return JSON.parse(res.stdout) as ReferenceStep[];
}

describe("AdamW and clipping match PyTorch", () => {
  beforeAll(useWasmBackend);

  const shapes: Record<string, { shape: number[]; decay: boolean }> = {
    "w.matrix": { shape: [7, 5], decay: true },
    "w.vector": { shape: [13], decay: false },
    "w.cube": { shape: [2, 3, 4], decay: true },
  };

  async function compare(maxGradNorm: number, gradScale: number): Promise<void> {
    const rng = new Rng(1234);
    const initial = Object.entries(shapes).map(([name, { shape, decay }]) => ({
      name,
      shape,
      decay,
      data: randomArray(rng, shape.reduce((a, b) => a * b, 1), 1),
    }));
    // Learning rates vary per step (as under a schedule) and gradients are fresh random numbers per step.
    const steps = Array.from({ length: 6 }, (_, s) => ({
      lr: 1e-2 * (1 + s) * 0.7,
      grads: Object.fromEntries(initial.map((p) => [p.name, randomArray(rng, p.data.length, gradScale)])),
    }));
    const config = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const reference = runTorchReference({
      params: initial,
      steps,
      beta1: config.beta1,
      beta2: config.beta2,
      eps: config.eps,
      weight_decay: config.weightDecay,
      max_grad_norm: maxGradNorm,
    });

    const params: NamedParameter[] = initial.map((p) => ({
      name: p.name,
      decay: p.decay,
      variable: tf.variable(tf.tensor(p.data, p.shape, "float32"), true, `adamw-test-${maxGradNorm}-${p.name}`),
    }));
    const opt = new AdamW(params, config);
    let clippedAtLeastOnce = false;
    for (let s = 0; s < steps.length; s++) {
      const grads = new Map(initial.map((p) => [p.name, tf.tensor(steps[s].grads[p.name], p.shape, "float32")]));
      const clipped = clipByGlobalNorm(grads, maxGradNorm);
      if (reference[s].norm !== null) {
        expect(Math.abs(clipped.norm - reference[s].norm!) / reference[s].norm!).toBeLessThan(1e-6);
        if (clipped.scale < 1) clippedAtLeastOnce = true;
      }
      opt.apply(clipped.grads, steps[s].lr);
      for (const g of clipped.grads.values()) g.dispose();
      const state = opt.exportState();
      for (const p of params) {
        expect(maxAbsDiff(p.variable.dataSync(), reference[s].params[p.name]), `param ${p.name} step ${s + 1}`).toBeLessThanOrEqual(1e-6);
        expect(maxAbsDiff(state.m.get(p.name)!, reference[s].m[p.name]), `m ${p.name} step ${s + 1}`).toBeLessThanOrEqual(1e-7);
        expect(maxAbsDiff(state.v.get(p.name)!, reference[s].v[p.name]), `v ${p.name} step ${s + 1}`).toBeLessThanOrEqual(1e-7);
      }
    }
    if (maxGradNorm > 0) expect(clippedAtLeastOnce).toBe(true);
    expect(opt.step).toBe(steps.length);
    opt.dispose();
    for (const p of params) p.variable.dispose();
  }

  it("six AdamW steps with weight decay on some parameters equal torch.optim.AdamW", async () => {
    await compare(0, 0.5);
  });

  it("global-norm clipping equals torch.nn.utils.clip_grad_norm_ and feeds the same AdamW update", async () => {
    // Gradients with norm ≈ 6 against a limit of 1: every step is clipped.
    await compare(1.0, 1.0);
  });

  it("clipping leaves gradients under the limit untouched and scales those above it to the limit", () => {
    const small = new Map([["a", tf.tensor([0.3, 0.4])]]);
    const r1 = clipByGlobalNorm(small, 1);
    expect(r1.scale).toBe(1);
    expect(r1.norm).toBeCloseTo(0.5, 6);
    expect(Array.from(r1.grads.get("a")!.dataSync())).toEqual(Array.from(new Float32Array([0.3, 0.4])));
    const big = new Map([
      ["a", tf.tensor([3, 0])],
      ["b", tf.tensor([[0, 4]])],
    ]);
    const r2 = clipByGlobalNorm(big, 1);
    expect(r2.norm).toBeCloseTo(5, 5);
    const after = Math.hypot(...r2.grads.get("a")!.dataSync(), ...r2.grads.get("b")!.dataSync());
    expect(after).toBeCloseTo(1, 5);
    expect(r2.grads.get("a")!.dataSync()[0]).toBeCloseTo(0.6, 5);
  });
});
