/**
 * Inference with a KV cache: the path generation and scoring run on.
 *
 * Small models are dominated by per-op overhead, so this path is hand-written over Float32Arrays and uses
 * tfjs (wasm, XNNPACK SIMD) only for the matrix products, where it is ≈25× faster than plain JavaScript
 * (measured: 256×128·128×384 in 0.77 ms vs 24 ms). Norms, rotary positions, attention and the MLP gate are
 * per-row JavaScript loops.
 *
 * Batch independence (the sampling contract: the same seed gives the same completion alone or in a batch of
 * 32): every row of every step is computed by code that reads only that row and its own cache. The matrix
 * products are row-separable too — XNNPACK's GEMM accumulates each output element over k in a fixed order,
 * whatever the number of rows — and test/model/inference.test.ts checks this with exact equality.
 */
import { tf } from "./tf.js";
import type { LlamaConfig } from "./config.js";
import { ropeTables, type RopeTables } from "./rope.js";
import type { LlamaWeights } from "./weights.js";

/**
 * Keys and values of one sequence, per layer, [capacity, kvDim] row-major. A cache can extend a read-only
 * `parent` (a shared prompt or prefix): positions < parent length are read from the parent, so many
 * continuations reuse one encoded prefix without copying it.
 */
export class KvCache {
  readonly parent: KvCache | null;
  /** Positions taken from the parent (its length when this cache was created). */
  readonly base: number;
  /** Own positions written so far. */
  own = 0;
  k: Float32Array[];
  v: Float32Array[];
  private capacity: number;

  constructor(
    private readonly layers: number,
    private readonly kvDim: number,
    capacity: number,
    parent: KvCache | null = null,
  ) {
    this.parent = parent;
    this.base = parent === null ? 0 : parent.length;
    this.capacity = Math.max(1, capacity);
    this.k = Array.from({ length: layers }, () => new Float32Array(this.capacity * kvDim));
    this.v = Array.from({ length: layers }, () => new Float32Array(this.capacity * kvDim));
  }

  /** Total positions visible to the next token (parent's + own). */
  get length(): number {
    return this.base + this.own;
  }

  /** A child cache that continues this one (which must not grow afterwards). */
  fork(capacity = 16): KvCache {
    return new KvCache(this.layers, this.kvDim, capacity, this);
  }

  ensure(extra: number): void {
    const need = this.own + extra;
    if (need <= this.capacity) return;
    let cap = this.capacity;
    while (cap < need) cap *= 2;
    const grow = (a: Float32Array): Float32Array => {
      const b = new Float32Array(cap * this.kvDim);
      b.set(a.subarray(0, this.own * this.kvDim));
      return b;
    };
    this.k = this.k.map(grow);
    this.v = this.v.map(grow);
    this.capacity = cap;
  }
}

/** One sequence's share of a forward step: new tokens appended to `cache`. */
export interface StepInput {
  cache: KvCache;
  tokens: readonly number[];
  /** Which of the new positions need logits: none, only the last one, or all of them. */
  logits: "none" | "last" | "all";
}

interface LayerParams {
  inputNorm: Float32Array;
  postNorm: Float32Array;
  /** [d, qDim + 2·kvDim]: q, k, v projections side by side (one matmul). */
  qkv: tf.Tensor2D;
  o: tf.Tensor2D;
  /** [d, 2·I]: gate and up side by side. */
  gateUp: tf.Tensor2D;
  down: tf.Tensor2D;
}

export class InferenceModel {
  readonly config: LlamaConfig;
  private readonly embed: Float32Array;
  private readonly finalNorm: Float32Array;
  private readonly head: tf.Tensor2D;
  private readonly layers: LayerParams[];
  private rope: RopeTables;
  private readonly qDim: number;
  private readonly kvDim: number;
  private scores = new Float32Array(256);

  /** Builds the inference weights (tfjs tensors on the current backend: call `initTf()` first). */
  constructor(config: LlamaConfig, weights: LlamaWeights) {
    this.config = config;
    const d = config.hiddenSize;
    const I = config.intermediateSize;
    this.qDim = config.numAttentionHeads * config.headDim;
    this.kvDim = config.numKeyValueHeads * config.headDim;
    const get = (name: string): Float32Array => {
      const w = weights.get(name);
      if (w === undefined) throw new Error(`InferenceModel: weights lack ${name}`);
      return w;
    };
    this.embed = get("model.embed_tokens.weight");
    this.finalNorm = get("model.norm.weight");
    this.layers = [];
    for (let l = 0; l < config.numHiddenLayers; l++) {
      const p = `model.layers.${l}.`;
      this.layers.push({
        inputNorm: get(p + "input_layernorm.weight"),
        postNorm: get(p + "post_attention_layernorm.weight"),
        qkv: tf.tensor2d(concatColumns([get(p + "self_attn.q_proj.weight"), get(p + "self_attn.k_proj.weight"), get(p + "self_attn.v_proj.weight")], d, [this.qDim, this.kvDim, this.kvDim]), [d, this.qDim + 2 * this.kvDim]),
        o: tf.tensor2d(get(p + "self_attn.o_proj.weight"), [this.qDim, d]),
        gateUp: tf.tensor2d(concatColumns([get(p + "mlp.gate_proj.weight"), get(p + "mlp.up_proj.weight")], d, [I, I]), [d, 2 * I]),
        down: tf.tensor2d(get(p + "mlp.down_proj.weight"), [I, d]),
      });
    }
    if (config.tieWordEmbeddings) {
      // Our head multiplies x·Hᵀ with H = embeddings [V, d]; store the transpose once (x·W is the fast form).
      const V = config.vocabSize;
      const t = new Float32Array(d * V);
      for (let v = 0; v < V; v++) for (let j = 0; j < d; j++) t[j * V + v] = this.embed[v * d + j];
      this.head = tf.tensor2d(t, [d, V]);
    } else {
      this.head = tf.tensor2d(get("lm_head.weight"), [d, config.vocabSize]);
    }
    this.rope = ropeTables(config.headDim, config.ropeTheta, Math.min(config.maxPositionEmbeddings, 4096));
  }

  newCache(capacity = 64): KvCache {
    return new KvCache(this.config.numHiddenLayers, this.kvDim, capacity);
  }

  /**
   * Runs the new tokens of every input through the model, appending to their caches. Returns, per input,
   * the logits of the requested positions as one Float32Array [positions, V] (empty for "none").
   */
  forward(inputs: readonly StepInput[]): Float32Array[] {
    const cfg = this.config;
    const d = cfg.hiddenSize;
    const I = cfg.intermediateSize;
    const V = cfg.vocabSize;
    let N = 0;
    for (const inp of inputs) N += inp.tokens.length;
    if (N === 0) return inputs.map(() => new Float32Array(0));
    // Row r belongs to input rowSeq[r] at absolute position rowPos[r].
    const rowSeq = new Int32Array(N);
    const rowPos = new Int32Array(N);
    const x = new Float32Array(N * d);
    let r = 0;
    inputs.forEach((inp, s) => {
      inp.cache.ensure(inp.tokens.length);
      const start = inp.cache.length;
      inp.tokens.forEach((tok, i) => {
        if (!Number.isInteger(tok) || tok < 0 || tok >= V) throw new Error(`token id ${tok} is outside the vocabulary (0…${V - 1})`);
        x.set(this.embed.subarray(tok * d, tok * d + d), r * d);
        rowSeq[r] = s;
        rowPos[r] = start + i;
        r++;
      });
    });
    const maxPos = rowPos.reduce((a, b) => Math.max(a, b), 0);
    if (maxPos >= this.rope.positions) this.rope = ropeTables(cfg.headDim, cfg.ropeTheta, maxPos + 1);

    const h = new Float32Array(N * d);
    const attn = new Float32Array(N * this.qDim);
    const act = new Float32Array(N * I);
    for (let l = 0; l < cfg.numHiddenLayers; l++) {
      const L = this.layers[l];
      rmsNormRows(x, L.inputNorm, h, N, d, cfg.rmsNormEps);
      const qkv = matmul(h, N, L.qkv);
      this.ropeAndStore(qkv, N, rowSeq, rowPos, inputs, l);
      this.attention(qkv, N, rowSeq, rowPos, inputs, l, attn);
      addInPlace(x, matmul(attn, N, L.o));
      rmsNormRows(x, L.postNorm, h, N, d, cfg.rmsNormEps);
      const gu = matmul(h, N, L.gateUp);
      for (let row = 0; row < N; row++) {
        const gb = row * 2 * I;
        const ab = row * I;
        for (let j = 0; j < I; j++) {
          const g = gu[gb + j];
          act[ab + j] = (g / (1 + Math.exp(-g))) * gu[gb + I + j];
        }
      }
      addInPlace(x, matmul(act, N, L.down));
    }
    for (const inp of inputs) inp.cache.own += inp.tokens.length;

    // Logits only for the rows that asked.
    const want: number[] = [];
    r = 0;
    for (const inp of inputs) {
      const n = inp.tokens.length;
      if (inp.logits === "all") for (let i = 0; i < n; i++) want.push(r + i);
      else if (inp.logits === "last" && n > 0) want.push(r + n - 1);
      r += n;
    }
    const out: Float32Array[] = [];
    if (want.length === 0) return inputs.map(() => new Float32Array(0));
    const sel = new Float32Array(want.length * d);
    want.forEach((row, i) => sel.set(x.subarray(row * d, row * d + d), i * d));
    const hs = new Float32Array(want.length * d);
    rmsNormRows(sel, this.finalNorm, hs, want.length, d, cfg.rmsNormEps);
    const logits = matmul(hs, want.length, this.head);
    let w = 0;
    for (const inp of inputs) {
      const count = inp.logits === "all" ? inp.tokens.length : inp.logits === "last" && inp.tokens.length > 0 ? 1 : 0;
      out.push(logits.slice(w * V, (w + count) * V));
      w += count;
    }
    return out;
  }

  /** Rotary positions on q and k (in place in `qkv`), then k and v into each sequence's cache. */
  private ropeAndStore(qkv: Float32Array, N: number, rowSeq: Int32Array, rowPos: Int32Array, inputs: readonly StepInput[], layer: number): void {
    const hd = this.config.headDim;
    const half = hd / 2;
    const width = this.qDim + 2 * this.kvDim;
    const heads = this.config.numAttentionHeads + this.config.numKeyValueHeads;
    const { cos, sin } = this.rope;
    for (let row = 0; row < N; row++) {
      const pos = rowPos[row];
      const cb = pos * hd;
      const base = row * width;
      for (let hIdx = 0; hIdx < heads; hIdx++) {
        const o = base + hIdx * hd;
        for (let i = 0; i < half; i++) {
          const a = qkv[o + i];
          const b = qkv[o + half + i];
          // x·cos + rotate_half(x)·sin, rotate_half(x) = [−x2, x1]; rounded to float32 like torch.
          qkv[o + i] = Math.fround(Math.fround(a * cos[cb + i]) + Math.fround(-b * sin[cb + i]));
          qkv[o + half + i] = Math.fround(Math.fround(b * cos[cb + half + i]) + Math.fround(a * sin[cb + half + i]));
        }
      }
      const cache = inputs[rowSeq[row]].cache;
      const slot = (pos - cache.base) * this.kvDim;
      cache.k[layer].set(qkv.subarray(base + this.qDim, base + this.qDim + this.kvDim), slot);
      cache.v[layer].set(qkv.subarray(base + this.qDim + this.kvDim, base + width), slot);
    }
  }

  /**
   * Causal attention of each row over its own sequence (parent positions, then own ones up to the row).
   * Hot loop of decoding: the query heads sharing a kv head are handled together and the two cache segments
   * (parent, own) are walked separately so the inner loops stay branch-free.
   */
  private attention(qkv: Float32Array, N: number, rowSeq: Int32Array, rowPos: Int32Array, inputs: readonly StepInput[], layer: number, out: Float32Array): void {
    const cfg = this.config;
    const hd = cfg.headDim;
    const H = cfg.numAttentionHeads;
    const kvHeads = cfg.numKeyValueHeads;
    const rep = H / kvHeads;
    const kvDim = this.kvDim;
    const qDim = this.qDim;
    const width = qDim + 2 * kvDim;
    const scale = 1 / Math.sqrt(hd);
    for (let row = 0; row < N; row++) {
      const cache = inputs[rowSeq[row]].cache;
      const T = rowPos[row] + 1;
      const P = Math.min(cache.base, T);
      if (this.scores.length < T * rep) this.scores = new Float32Array(T * rep * 2);
      const scores = this.scores;
      const Kp = cache.parent !== null ? cache.parent.k[layer] : cache.k[layer];
      const Vp = cache.parent !== null ? cache.parent.v[layer] : cache.v[layer];
      const Ko = cache.k[layer];
      const Vo = cache.v[layer];
      for (let g = 0; g < kvHeads; g++) {
        const kvOff = g * hd;
        for (let r = 0; r < rep; r++) {
          const qo = row * width + (g * rep + r) * hd;
          const sb = r * T;
          let max = -Infinity;
          for (let t = 0; t < P; t++) {
            const s = dot(qkv, qo, Kp, t * kvDim + kvOff, hd) * scale;
            scores[sb + t] = s;
            if (s > max) max = s;
          }
          for (let t = P; t < T; t++) {
            const s = dot(qkv, qo, Ko, (t - P) * kvDim + kvOff, hd) * scale;
            scores[sb + t] = s;
            if (s > max) max = s;
          }
          let sum = 0;
          for (let t = 0; t < T; t++) {
            const e = Math.exp(scores[sb + t] - max);
            scores[sb + t] = e;
            sum += e;
          }
          const inv = 1 / sum;
          const ob = row * qDim + (g * rep + r) * hd;
          out.fill(0, ob, ob + hd);
          for (let t = 0; t < P; t++) axpy(out, ob, Vp, t * kvDim + kvOff, scores[sb + t] * inv, hd);
          for (let t = P; t < T; t++) axpy(out, ob, Vo, (t - P) * kvDim + kvOff, scores[sb + t] * inv, hd);
        }
      }
    }
  }

  dispose(): void {
    this.head.dispose();
    for (const L of this.layers) {
      L.qkv.dispose();
      L.o.dispose();
      L.gateUp.dispose();
      L.down.dispose();
    }
  }
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += a[ao + j] * b[bo + j];
    s1 += a[ao + j + 1] * b[bo + j + 1];
    s2 += a[ao + j + 2] * b[bo + j + 2];
    s3 += a[ao + j + 3] * b[bo + j + 3];
  }
  for (; j < n; j++) s0 += a[ao + j] * b[bo + j];
  return s0 + s1 + (s2 + s3);
}

/** y[yo…] += alpha · x[xo…] over n entries. */
function axpy(y: Float32Array, yo: number, x: Float32Array, xo: number, alpha: number, n: number): void {
  for (let j = 0; j < n; j++) y[yo + j] += alpha * x[xo + j];
}

/** x [rows, in] · W [in, out] on the tfjs backend, as a Float32Array [rows, out]. */
function matmul(x: Float32Array, rows: number, w: tf.Tensor2D): Float32Array {
  const inDim = w.shape[0];
  const a = tf.tensor2d(x.subarray(0, rows * inDim), [rows, inDim]);
  const y = tf.matMul(a, w);
  const out = y.dataSync() as Float32Array;
  a.dispose();
  y.dispose();
  return out;
}

function rmsNormRows(x: Float32Array, weight: Float32Array, out: Float32Array, rows: number, d: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const b = r * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[b + j] * x[b + j];
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) out[b + j] = x[b + j] * inv * weight[j];
  }
}

function addInPlace(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length && i < y.length; i++) x[i] += y[i];
}

/** Column-concatenates [d, w_i] matrices into [d, Σ w_i]. */
function concatColumns(parts: Float32Array[], d: number, widths: number[]): Float32Array {
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(d * total);
  for (let row = 0; row < d; row++) {
    let off = 0;
    parts.forEach((p, i) => {
      out.set(p.subarray(row * widths[i], (row + 1) * widths[i]), row * total + off);
      off += widths[i];
    });
  }
  return out;
}
