/**
 * The Llama-family model's (Llama, Qwen2, Qwen3) parameters as tfjs variables (what the trainer's AdamW updates and checkpoints save) and a
 * differentiable full forward pass on TensorFlow.js. That forward is the reference the faster paths are tested
 * against: inference (generation, scoring) runs the KV-cache path in ./inference.ts and training the hand-written
 * forward/backward in ../train/llama-grad.ts, both checked against it (and it against transformers) in the tests.
 *
 * Usage (autograd, as the tests do):
 * ```ts
 * await initTf("wasm");
 * const model = LlamaModel.fromWeights(folder.config, folder.weights);   // or LlamaModel.random(config, seed)
 * const batch = padBatch([[1, 5, 9], [1, 7]]);                            // right-padded ids + attention mask
 * const { value, grads } = tf.variableGrads(() => {
 *   const lp = model.tokenLogProbs(batch);                                 // [B, T-1], zero at padding
 *   return tf.neg(tf.div(tf.sum(lp), batch.targetCount)) as tf.Scalar;
 * }, model.variables);
 * ```
 * `model.variables[i]` is the parameter `model.specs[i]` (HF name, our shape; the tfjs variable's own name is
 * that HF name + "#<instance>", unique per model so a policy and a frozen reference can coexist; `grads` from
 * tf.variableGrads are keyed by it). Linear weights are stored
 * transposed relative to HF ([in, out]); see ./weights.ts. `model.getWeights()` snapshots them for saving.
 */
import { tf } from "./tf.js";
import type { LlamaConfig } from "./config.js";
import { ropeTables } from "./rope.js";
import { parameterSpecs, randomWeights, type LlamaWeights, type ParamSpec, type RandomInitOptions } from "./weights.js";

/** A right-padded batch of token sequences. */
export interface PaddedBatch {
  batchSize: number;
  seqLen: number;
  /** [B·T] row-major token ids; padding positions hold `padId`. */
  ids: Int32Array;
  /** [B·T] 1 for real tokens, 0 for padding. */
  mask: Float32Array;
  /** Number of (position, next token) pairs with both tokens real: the denominator of a mean token loss. */
  targetCount: number;
}

/** Right-pads ragged sequences to the longest one (or `seqLen`), with a 1/0 attention mask. */
export function padBatch(seqs: ReadonlyArray<ReadonlyArray<number>>, opts: { padId?: number; seqLen?: number } = {}): PaddedBatch {
  const B = seqs.length;
  if (B === 0) throw new Error("padBatch: empty batch");
  const T = opts.seqLen ?? Math.max(...seqs.map((s) => s.length));
  const ids = new Int32Array(B * T).fill(opts.padId ?? 0);
  const mask = new Float32Array(B * T);
  let targetCount = 0;
  seqs.forEach((s, b) => {
    if (s.length > T) throw new Error(`padBatch: sequence ${b} has ${s.length} tokens, more than seqLen ${T}`);
    for (let t = 0; t < s.length; t++) {
      ids[b * T + t] = s[t];
      mask[b * T + t] = 1;
    }
    targetCount += Math.max(0, s.length - 1);
  });
  return { batchSize: B, seqLen: T, ids, mask, targetCount };
}

type BatchInput = PaddedBatch | ReadonlyArray<ReadonlyArray<number>>;

function toBatch(input: BatchInput): PaddedBatch {
  return "ids" in input && input.ids instanceof Int32Array ? (input as PaddedBatch) : padBatch(input as ReadonlyArray<ReadonlyArray<number>>);
}

/** Large negative bias for masked attention (finite, so a fully masked row softmaxes to uniform, never NaN). */
const MASKED = -1e9;

let instanceCounter = 0;

export class LlamaModel {
  readonly config: LlamaConfig;
  readonly specs: ParamSpec[];
  /** Trainable parameters, in `specs` order (fixed for a config). */
  readonly variables: tf.Variable[];
  private readonly byName = new Map<string, tf.Variable>();

  private constructor(config: LlamaConfig, weights: LlamaWeights, trainable: boolean) {
    const instance = ++instanceCounter;
    this.config = config;
    this.specs = parameterSpecs(config);
    this.variables = this.specs.map((spec) => {
      const w = weights.get(spec.name);
      if (w === undefined) throw new Error(`LlamaModel: weights lack ${spec.name}`);
      // tfjs variable names are global: suffix the HF name with an instance number so that several models
      // (policy and reference) coexist. `specs[i].name` keeps the plain HF name.
      const v = tf.variable(tf.tensor(w, spec.shape, "float32"), trainable, `${spec.name}#${instance}`);
      this.byName.set(spec.name, v);
      return v;
    });
  }

  static fromWeights(config: LlamaConfig, weights: LlamaWeights, opts: { trainable?: boolean } = {}): LlamaModel {
    return new LlamaModel(config, weights, opts.trainable ?? true);
  }

  /** A model with deterministic random weights (HF-style init, std 0.02). */
  static random(config: LlamaConfig, seed: number, opts: RandomInitOptions & { trainable?: boolean } = {}): LlamaModel {
    return new LlamaModel(config, randomWeights(config, seed, opts), opts.trainable ?? true);
  }

  param(name: string): tf.Variable {
    const v = this.byName.get(name);
    if (v === undefined) throw new Error(`LlamaModel: no parameter ${name}`);
    return v;
  }

  /** A copy of the current parameters (our layout), e.g. for saving or building an inference model. */
  getWeights(): LlamaWeights {
    const out: LlamaWeights = new Map();
    this.specs.forEach((spec, i) => out.set(spec.name, Float32Array.from(this.variables[i].dataSync() as Float32Array)));
    return out;
  }

  setWeights(weights: LlamaWeights): void {
    this.specs.forEach((spec, i) => {
      const w = weights.get(spec.name);
      if (w === undefined) throw new Error(`setWeights: missing ${spec.name}`);
      this.variables[i].assign(tf.tensor(w, spec.shape, "float32"));
    });
  }

  /**
   * Logits [B, T, V] for a right-padded batch (differentiable). Positions are 0…T−1 in every row; a key is
   * attended iff it is not in the future and its mask is 1 (HF semantics for right padding).
   */
  forwardLogits(input: BatchInput): tf.Tensor3D {
    const batch = toBatch(input);
    const { batchSize: B, seqLen: T } = batch;
    const cfg = this.config;
    const H = cfg.numAttentionHeads;
    const kvH = cfg.numKeyValueHeads;
    const rep = H / kvH;
    const hd = cfg.headDim;
    const V = cfg.vocabSize;
    return tf.tidy(() => {
      const rope = ropeTables(hd, cfg.ropeTheta, T, cfg.ropeScaling);
      const cos = tf.tensor2d(rope.cos.subarray(0, T * hd), [T, hd]);
      const sin = tf.tensor2d(rope.sin.subarray(0, T * hd), [T, hd]);
      const maskBias = tf.tensor(buildMaskBias(batch), [B, 1, 1, T, T]);
      const scale = 1 / Math.sqrt(hd);

      let x: tf.Tensor2D = embeddingLookup(this.param("model.embed_tokens.weight") as tf.Tensor2D, batch.ids);
      for (let l = 0; l < cfg.numHiddenLayers; l++) {
        const p = `model.layers.${l}.`;
        const h = rmsNorm(x, this.param(p + "input_layernorm.weight"), cfg.rmsNormEps);
        // Projection (+ bias: Qwen2, attention_bias) as [B, T, heads, hd], then Qwen3's per-head norm.
        const project = (name: "q" | "k" | "v", heads: number): tf.Tensor => {
          let y: tf.Tensor = tf.matMul(h, this.param(`${p}self_attn.${name}_proj.weight`) as tf.Tensor2D);
          if (cfg.qkvBias) y = tf.add(y, this.param(`${p}self_attn.${name}_proj.bias`));
          y = y.reshape([B, T, heads, hd]);
          if (cfg.qkNorm && name !== "v") y = rmsNorm(y, this.param(`${p}self_attn.${name}_norm.weight`), cfg.rmsNormEps);
          return y.transpose([0, 2, 1, 3]);
        };
        const q = applyRope(project("q", H), cos, sin);
        const k = applyRope(project("k", kvH), cos, sin);
        const v = project("v", kvH);
        // Grouped-query attention without copying K/V: query heads kv·rep … kv·rep+rep−1 share kv head `kv`
        // (HF repeat_kv order), so [B, H, T, hd] regroups to [B·kvH, rep·T, hd] against [B·kvH, T, hd].
        const qg = q.reshape([B * kvH, rep * T, hd]);
        const kT = k.reshape([B * kvH, T, hd]).transpose([0, 2, 1]);
        const vg = v.reshape([B * kvH, T, hd]);
        const scores = tf.matMul(qg, kT).mul(scale).reshape([B, kvH, rep, T, T]).add(maskBias);
        const probs = tf.softmax(scores.reshape([B * kvH * rep * T, T])).reshape([B * kvH, rep * T, T]);
        const attn = tf.matMul(probs, vg).reshape([B, H, T, hd]).transpose([0, 2, 1, 3]).reshape([B * T, H * hd]);
        let attnOut: tf.Tensor = tf.matMul(attn as tf.Tensor2D, this.param(p + "self_attn.o_proj.weight") as tf.Tensor2D);
        if (cfg.oBias) attnOut = tf.add(attnOut, this.param(p + "self_attn.o_proj.bias"));
        x = tf.add(x, attnOut);
        const h2 = rmsNorm(x, this.param(p + "post_attention_layernorm.weight"), cfg.rmsNormEps);
        const gate = tf.matMul(h2, this.param(p + "mlp.gate_proj.weight") as tf.Tensor2D);
        const up = tf.matMul(h2, this.param(p + "mlp.up_proj.weight") as tf.Tensor2D);
        const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
        x = tf.add(x, tf.matMul(act, this.param(p + "mlp.down_proj.weight") as tf.Tensor2D));
      }
      const xn = rmsNorm(x, this.param("model.norm.weight"), cfg.rmsNormEps);
      const head = cfg.tieWordEmbeddings ? tf.transpose(this.param("model.embed_tokens.weight")) : this.param("lm_head.weight");
      return tf.matMul(xn, head as tf.Tensor2D).reshape([B, T, V]) as tf.Tensor3D;
    });
  }

  /**
   * log P(ids[b, t+1] | ids[b, ≤t]) as [B, T−1] (differentiable); positions whose target is padding are 0.
   * Sum over t for log π(y|x) of a response by masking the prompt positions out.
   */
  tokenLogProbs(input: BatchInput): tf.Tensor2D {
    const batch = toBatch(input);
    const { batchSize: B, seqLen: T } = batch;
    const V = this.config.vocabSize;
    return tf.tidy(() => {
      const logits = this.forwardLogits(batch).slice([0, 0, 0], [B, T - 1, V]);
      const logZ = tf.logSumExp(logits, -1);
      const targets = new Int32Array(B * (T - 1));
      const targetMask = new Float32Array(B * (T - 1));
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T - 1; t++) {
          targets[b * (T - 1) + t] = batch.ids[b * T + t + 1];
          targetMask[b * (T - 1) + t] = batch.mask[b * T + t + 1] * batch.mask[b * T + t];
        }
      }
      // The target logit through a one-hot product: the wasm backend has no gradient for gather.
      const oneHot = tf.oneHot(tf.tensor1d(targets, "int32"), V).reshape([B, T - 1, V]);
      const picked = tf.sum(tf.mul(logits, oneHot), -1);
      return tf.mul(tf.sub(picked, logZ), tf.tensor2d(targetMask, [B, T - 1])) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** [B, T, T] additive bias: 0 where key k ≤ query q and mask[b, k] = 1, else a large negative number. */
function buildMaskBias(batch: PaddedBatch): Float32Array {
  const { batchSize: B, seqLen: T, mask } = batch;
  const bias = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < T; q++) {
      const row = (b * T + q) * T;
      for (let k = 0; k < T; k++) bias[row + k] = k <= q && mask[b * T + k] !== 0 ? 0 : MASKED;
    }
  }
  return bias;
}

/** RMSNorm over the last axis (of any rank). */
function rmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor, eps: number): T {
  const variance = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, eps))), weight) as T;
}

/** q·cos + rotate_half(q)·sin over the last axis of [B, heads, T, hd]; cos/sin are [T, hd]. */
function applyRope(x: tf.Tensor, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const hd = x.shape[3] as number;
  const half = hd / 2;
  const [x1, x2] = tf.split(x, [half, half], 3);
  const rotated = tf.concat([tf.neg(x2), x1], 3);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
}

/**
 * Embedding rows for `ids` as [N, d]. Forward is a gather; the gradient is a scatter-add done in JS, because the
 * wasm backend lacks gather's gradient (UnsortedSegmentSum) and oneHot·W costs N·V·d multiply-adds.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: Int32Array): tf.Tensor2D {
  const [V, d] = table.shape;
  const lookup = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const value = tf.gather(inputs[0] as tf.Tensor, tf.tensor1d(ids, "int32"));
    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const g = dy.dataSync() as Float32Array;
      const out = new Float32Array(V * d);
      for (let i = 0; i < ids.length; i++) {
        const src = i * d;
        const dst = ids[i] * d;
        for (let j = 0; j < d; j++) out[dst + j] += g[src + j];
      }
      return tf.tensor2d(out, [V, d]);
    };
    return { value, gradFunc };
  });
  return lookup(table) as tf.Tensor2D;
}
