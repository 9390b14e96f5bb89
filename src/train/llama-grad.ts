/**
 * The Llama forward and backward pass written out by hand for training: no tfjs autograd tape. Given token
 * sequences it returns each target token's log-probability; given the upstream gradient dL/d(log-prob) of each
 * target it adds dL/dθ into caller-owned gradient arrays. Objectives (SFT, stage 3's preference losses) only need
 * per-sequence sums of those log-probabilities, so they stay pure functions (./preference-loss.ts).
 *
 * Why by hand: under tfjs autograd a training step was dominated by the tape (hundreds of small ops and their
 * gradients), the T² attention materialised per head, padding, and slow generic kernels; see docs/BENCHMARKS.md.
 * Here sequences are packed without padding, the big products run on tfjs-wasm's XNNPACK matMul (always in the
 * untransposed form, its fast path), and everything else runs in the inference path's wasm SIMD kernels
 * (src/model/kernels.ts) on one wasm memory: attention is causal and per row, never a T×T matrix, and its
 * backward recomputes the softmax (flash-attention style) instead of storing it.
 *
 * Usage:
 * ```ts
 * const net = new LlamaGrad(config);
 * const { logprobs } = net.forward(weights, seqs);      // weights: Float32Array per parameterSpecs(config) entry
 * net.backward(dlogprobs, grads);                       // grads: same layout, accumulated (+=)
 * ```
 * Every step runs the same operations in the same order for the same input, so results are reproducible.
 */
import type { LlamaConfig } from "../model/config.js";
import { UserError } from "../util/errors.js";
import { concatColumns, matmulInto, tensorValues } from "../model/inference.js";
import { KernelArena, simdAvailable } from "../model/kernels.js";
import { ropeTables } from "../model/rope.js";
import { tf } from "../model/tf.js";
import { parameterSpecs } from "../model/weights.js";
import type { TokenSequence } from "./token-loss.js";

export interface ForwardResult {
  /** Per sequence, log P(ids[t + 1] | ids[≤ t]) for t = 0 … n − 2; 0 where token t + 1 is not a target. */
  logprobs: Float32Array[];
  /** Targets whose most likely token (argmax of the logits) is the target itself. */
  correct: number;
}

interface LayerWeights {
  qkv: tf.Tensor2D;
  o: tf.Tensor2D;
  gateUp: tf.Tensor2D;
  down: tf.Tensor2D;
  /** Float offsets of the norm gains in the arena. */
  inNorm: number;
  postNorm: number;
}

/** What the backward pass needs from the forward pass (float offsets into the arena). */
interface Saved {
  seqs: readonly TokenSequence[];
  /**
   * Rows (input positions) in all. Rows 0 … trunk − 1 are the prefix every sequence shares (see `sharedTrunk`);
   * sequence s has its own rows segStart[s] … segStart[s] + segLen[s] − 1, for positions trunk, trunk + 1, ….
   */
  N: number;
  trunk: number;
  segStart: number[];
  segLen: number[];
  /** Rows with a trained target, their target ids, and where each lies in the sequences' log-prob arrays. */
  sel: Int32Array;
  selTarget: Int32Array;
  selSeq: Int32Array;
  selPos: Int32Array;
  ids: Int32Array;
  /** Per layer: residual input, q/k/v after rotary positions, attention output, residual after attention, gate|up. */
  x: number[];
  qkv: number[];
  att: number[];
  xm: number[];
  gu: number[];
  /** The last residual's selected rows, their normalised form, and their logits then log Z. */
  /** Row positions (i32) for the rotary kernel. */
  pos: number;
  xs: number;
  hn: number;
  logits: number;
  lse: Float32Array;
  block: { offset: number; floats: number };
  layers: LayerWeights[];
  head: tf.Tensor2D;
  finalNorm: number;
  weights: readonly Float32Array[];
}

/**
 * The hand-written passes know the plain Llama block only: a Qwen2 or Qwen3 model (or a Llama with
 * attention_bias) would train as a different model with its biases and head norms silently left out, so it is
 * refused. (Rotary scaling only changes the shared rotary tables, which this trainer reads like inference.)
 */
export function assertTrainable(config: LlamaConfig): void {
  if (config.architecture !== "llama") {
    throw new UserError(
      `the embedded trainer trains Llama models only; this model's config.json has model_type "${config.architecture}" (${config.architecture === "qwen2" ? "q/k/v biases" : "per-head q/k norms"}, which it does not train). The embedded engine can still run it for generation and scoring.`,
    );
  }
  if (config.qkvBias || config.oBias) throw new UserError(`the embedded trainer does not train attention biases: this model's config.json has attention_bias true`);
}

export class LlamaGrad {
  readonly config: LlamaConfig;
  private readonly arena: KernelArena;
  private readonly index = new Map<string, number>();
  private readonly qDim: number;
  private readonly kvDim: number;
  /** Row width of the fused q|k|v product. */
  private readonly width: number;
  private rope: { positions: number; cos: number; sin: number; negSin: number } | null = null;
  private saved: Saved | null = null;

  constructor(config: LlamaConfig) {
    assertTrainable(config);
    const { headDim, hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads } = config;
    // The kernels work in 4-float chunks and the rotary kernel in half-heads of them.
    if (headDim % 8 !== 0 || hiddenSize % 4 !== 0 || intermediateSize % 4 !== 0 || numAttentionHeads % numKeyValueHeads !== 0) {
      throw new Error(
        `the embedded trainer needs head_dim a multiple of 8, hidden and intermediate sizes multiples of 4 and attention heads a multiple of the KV heads (got head_dim ${headDim}, hidden ${hiddenSize}, intermediate ${intermediateSize}, heads ${numAttentionHeads}/${numKeyValueHeads})`,
      );
    }
    if (!simdAvailable()) throw new Error("the embedded trainer needs WebAssembly SIMD (Node ≥ 16.4)");
    this.config = config;
    this.arena = new KernelArena(headDim);
    parameterSpecs(config).forEach((s, i) => this.index.set(s.name, i));
    this.qDim = numAttentionHeads * headDim;
    this.kvDim = numKeyValueHeads * headDim;
    this.width = this.qDim + 2 * this.kvDim;
  }

  private w(weights: readonly Float32Array[], name: string): Float32Array {
    const i = this.index.get(name);
    if (i === undefined || weights[i] === undefined) throw new Error(`LlamaGrad: no weights for ${name}`);
    return weights[i];
  }

  /** Runs the forward pass and keeps what `backward` needs (until the next forward or `release`). */
  forward(weights: readonly Float32Array[], seqs: readonly TokenSequence[]): ForwardResult {
    this.release();
    const cfg = this.config;
    const d = cfg.hiddenSize;
    const I = cfg.intermediateSize;
    const V = cfg.vocabSize;
    const L = cfg.numHiddenLayers;
    const W = this.width;
    const segStart: number[] = [];
    const segLen: number[] = [];
    let maxLen = 0;
    const selRows: number[] = [];
    const selTargets: number[] = [];
    const selSeqs: number[] = [];
    const selPos: number[] = [];
    for (const s of seqs) {
      if (s.lossMask !== undefined && s.lossMask.length !== s.ids.length) throw new Error(`LlamaGrad: lossMask has ${s.lossMask.length} entries for ${s.ids.length} tokens`);
      for (const id of s.ids) if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} is outside the vocabulary (0…${V - 1})`);
    }
    const P = sharedTrunk(seqs);
    let N = P;
    seqs.forEach((s, k) => {
      const n = Math.max(0, s.ids.length - 1);
      segStart.push(N);
      segLen.push(n - P);
      for (let t = P; t < n; t++) {
        if (s.lossMask === undefined || s.lossMask[t + 1]) {
          selRows.push(N + t - P);
          selTargets.push(s.ids[t + 1]);
          selSeqs.push(k);
          selPos.push(t);
        }
      }
      N += n - P;
      maxLen = Math.max(maxLen, n);
    });
    if (N === 0) throw new Error("LlamaGrad.forward: no positions to run (every sequence has fewer than 2 tokens)");
    const S = selRows.length;
    this.ensureRope(maxLen);

    // One arena block: per-layer activations, the work buffers the backward pass reuses, norms, positions.
    const layerFloats = N * (d + W + this.qDim + d + 2 * I);
    const work = 2 * N * d + N * W + N * this.qDim + 3 * N * I + 2 * (maxLen + 8);
    const floats = 16 + L * layerFloats + N * d + 2 * S * d + S * V + 4 + work + (2 * L + 1) * d + N;
    const A = this.arena;
    const offset = A.alloc(floats);
    let at = offset;
    const take = (n: number): number => {
      const o = at;
      at += Math.ceil(n / 4) * 4; // keep every buffer 16-byte aligned
      return o;
    };
    const x: number[] = [];
    const qkv: number[] = [];
    const att: number[] = [];
    const xm: number[] = [];
    const gu: number[] = [];
    for (let l = 0; l < L; l++) {
      x.push(take(N * d));
      qkv.push(take(N * W));
      att.push(take(N * this.qDim));
      xm.push(take(N * d));
      gu.push(take(N * 2 * I));
    }
    const xLast = take(N * d);
    const xs = take(S * d);
    const hn = take(S * d);
    const logits = take(S * V + 4);
    const h = take(N * d);
    const act = take(N * I);
    const scratch = take(maxLen + 8);
    const stats = take(2 * S + 4);
    const pos = take(N);
    const norms = take((2 * L + 1) * d);
    const f32 = A.f32;

    const layers: LayerWeights[] = [];
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}.`;
      f32.set(this.w(weights, p + "input_layernorm.weight"), norms + 2 * l * d);
      f32.set(this.w(weights, p + "post_attention_layernorm.weight"), norms + (2 * l + 1) * d);
      layers.push({
        qkv: tf.tensor2d(concatColumns([this.w(weights, p + "self_attn.q_proj.weight"), this.w(weights, p + "self_attn.k_proj.weight"), this.w(weights, p + "self_attn.v_proj.weight")], d, [this.qDim, this.kvDim, this.kvDim]), [d, W]),
        o: tf.tensor2d(this.w(weights, p + "self_attn.o_proj.weight"), [this.qDim, d]),
        gateUp: tf.tensor2d(concatColumns([this.w(weights, p + "mlp.gate_proj.weight"), this.w(weights, p + "mlp.up_proj.weight")], d, [I, I]), [d, 2 * I]),
        down: tf.tensor2d(this.w(weights, p + "mlp.down_proj.weight"), [I, d]),
        inNorm: norms + 2 * l * d,
        postNorm: norms + (2 * l + 1) * d,
      });
    }
    const finalNorm = norms + 2 * L * d;
    f32.set(this.w(weights, "model.norm.weight"), finalNorm);
    const embed = this.w(weights, "model.embed_tokens.weight");
    const head = cfg.tieWordEmbeddings ? tf.tidy(() => tf.transpose(tf.tensor2d(embed, [V, d])) as tf.Tensor2D) : tf.tensor2d(this.w(weights, "lm_head.weight"), [d, V]);

    // Embeddings and row positions.
    const posView = new Int32Array(A.memory.buffer, pos * 4, N);
    const x0 = L > 0 ? x[0] : xLast;
    const rowIds = new Int32Array(N);
    for (let t = 0; t < P; t++) rowIds[t] = seqs[0].ids[t];
    seqs.forEach((s, k) => {
      for (let t = 0; t < segLen[k]; t++) rowIds[segStart[k] + t] = s.ids[P + t];
    });
    for (let r = 0; r < N; r++) {
      const id = rowIds[r];
      f32.set(embed.subarray(id * d, id * d + d), x0 + r * d);
    }
    for (let t = 0; t < P; t++) posView[t] = t;
    seqs.forEach((_, k) => {
      for (let t = 0; t < segLen[k]; t++) posView[segStart[k] + t] = P + t;
    });

    const K = A.kernels;
    const eps = cfg.rmsNormEps;
    const H = cfg.numAttentionHeads;
    const rep = H / cfg.numKeyValueHeads;
    const hd = cfg.headDim;
    const scale = 1 / Math.sqrt(hd);
    const rope = this.rope!;
    for (let l = 0; l < L; l++) {
      const Lw = layers[l];
      const xl = x[l];
      K.rmsNorm(xl * 4, Lw.inNorm * 4, h * 4, N, d * 4, d, eps);
      matmulInto(f32, h, N, Lw.qkv, qkv[l]);
      K.rope(qkv[l] * 4, N, W * 4, H + cfg.numKeyValueHeads, hd * 4, rope.cos * 4, rope.sin * 4, pos * 4);
      // The trunk's rows attend within it; each sequence's rows attend over the trunk, then their own rows.
      const trunkK = (qkv[l] + this.qDim) * 4;
      const trunkV = trunkK + this.kvDim * 4;
      for (let i = 0; i < P; i++) {
        K.attendRow((qkv[l] + i * W) * 4, 0, 0, 0, hd * 4, trunkK, trunkV, i + 1, hd * 4, H, rep, hd * 4, W * 4, scale, scratch * 4, (att[l] + i * this.qDim) * 4);
      }
      for (let k = 0; k < seqs.length; k++) {
        const r0 = segStart[k];
        const kBase = (qkv[l] + r0 * W + this.qDim) * 4;
        const vBase = kBase + this.kvDim * 4;
        for (let i = 0; i < segLen[k]; i++) {
          const r = r0 + i;
          K.attendRow((qkv[l] + r * W) * 4, trunkK, trunkV, P, hd * 4, kBase, vBase, i + 1, hd * 4, H, rep, hd * 4, W * 4, scale, scratch * 4, (att[l] + r * this.qDim) * 4);
        }
      }
      matmulInto(f32, att[l], N, Lw.o, xm[l]);
      K.addTo(xm[l] * 4, xl * 4, N * d * 4);
      K.rmsNorm(xm[l] * 4, Lw.postNorm * 4, h * 4, N, d * 4, d, eps);
      matmulInto(f32, h, N, Lw.gateUp, gu[l]);
      K.swiGlu(gu[l] * 4, act * 4, N, I * 4);
      const next = l + 1 < L ? x[l + 1] : xLast;
      matmulInto(f32, act, N, Lw.down, next);
      K.addTo(next * 4, xm[l] * 4, N * d * 4);
    }

    // The head and log-softmax on the rows with a trained target only.
    for (let j = 0; j < S; j++) f32.copyWithin(xs + j * d, xLast + selRows[j] * d, xLast + selRows[j] * d + d);
    const logprobs = seqs.map((s) => new Float32Array(Math.max(0, s.ids.length - 1)));
    let correct = 0;
    const lse = new Float32Array(S);
    if (S > 0) {
      K.rmsNorm(xs * 4, finalNorm * 4, hn * 4, S, d * 4, d, eps);
      matmulInto(f32, hn, S, head, logits);
      K.softmaxStats(logits * 4, S, V, stats * 4);
      for (let j = 0; j < S; j++) {
        const z = Math.fround(f32[stats + 2 * j] + Math.fround(Math.log(f32[stats + 2 * j + 1])));
        lse[j] = z;
        const row = logits + j * V;
        const target = selTargets[j];
        logprobs[selSeqs[j]][selPos[j]] = Math.fround(f32[row + target] - z);
        let best = 0;
        for (let v = 1; v < V; v++) if (f32[row + v] > f32[row + best]) best = v;
        if (best === target) correct++;
      }
    }
    this.saved = {
      seqs,
      N,
      trunk: P,
      segStart,
      segLen,
      sel: Int32Array.from(selRows),
      selTarget: Int32Array.from(selTargets),
      selSeq: Int32Array.from(selSeqs),
      selPos: Int32Array.from(selPos),
      ids: rowIds,
      x: [...x, xLast],
      pos,
      qkv,
      att,
      xm,
      gu,
      xs,
      hn,
      logits,
      lse,
      block: { offset, floats },
      layers,
      head,
      finalNorm,
      weights,
    };
    return { logprobs, correct };
  }

  /**
   * Adds dL/dθ into `grads` (one array per parameterSpecs entry), given dL/d(log-prob) of every target in the
   * layout `forward` returned (entries at untrained positions are ignored). Releases the forward pass's state.
   */
  backward(dlogprobs: readonly Float32Array[], grads: Float32Array[]): void {
    const sv = this.saved;
    if (sv === null) throw new Error("LlamaGrad.backward: no forward pass to differentiate");
    try {
      this.backwardFrom(sv, dlogprobs, grads);
    } finally {
      this.release();
    }
  }

  private backwardFrom(sv: Saved, dlogprobs: readonly Float32Array[], grads: Float32Array[]): void {
    const cfg = this.config;
    const d = cfg.hiddenSize;
    const I = cfg.intermediateSize;
    const V = cfg.vocabSize;
    const L = cfg.numHiddenLayers;
    const W = this.width;
    const qDim = this.qDim;
    const kvDim = this.kvDim;
    const H = cfg.numAttentionHeads;
    const rep = H / cfg.numKeyValueHeads;
    const hd = cfg.headDim;
    const scale = 1 / Math.sqrt(hd);
    const eps = cfg.rmsNormEps;
    const { N } = sv;
    const S = sv.sel.length;
    const maxLen = sv.trunk + Math.max(0, ...sv.segLen);
    const A = this.arena;
    // Backward buffers in a second block (the forward block stays intact).
    const floats = 16 + 2 * N * d + N * d + N * W + N * qDim + 3 * N * I + 2 * (maxLen + 8) + S * d;
    const offset = A.alloc(floats);
    const f32 = A.f32;
    let at = offset;
    const take = (n: number): number => {
      const o = at;
      at += Math.ceil(n / 4) * 4;
      return o;
    };
    const dx = take(N * d);
    const dh = take(N * d);
    const h = take(N * d);
    const dqkv = take(N * W);
    const datt = take(N * qDim);
    const act = take(N * I);
    const dgu = take(N * 2 * I);
    const s1 = take(maxLen + 8);
    const s2 = take(maxLen + 8);
    const dhn = take(S * d);
    const K = A.kernels;
    const g = (name: string): Float32Array => this.w(grads, name);
    try {
      f32.fill(0, dx, dx + N * d);
      if (S > 0) {
        // dlogits = dlogp · (onehot(target) − softmax), in place over the logits. The kernel zeroes up to 3 floats
        // past a row (the next row's first logits when V is not a multiple of 4): they are kept and put back.
        const tail = new Float32Array(3);
        for (let j = 0; j < S; j++) {
          const up = dlogprobs[sv.selSeq[j]][sv.selPos[j]];
          const row = sv.logits + j * V;
          tail.set(f32.subarray(row + V, row + V + 3));
          K.expSub(row * 4, V, sv.lse[j], -up);
          f32.set(tail, row + V);
          f32[row + sv.selTarget[j]] += up;
        }
        const dlog = tf.tensor2d(f32.subarray(sv.logits, sv.logits + S * V), [S, V]);
        const hnT = tf.transpose(tf.tensor2d(f32.subarray(sv.hn, sv.hn + S * d), [S, d]));
        const dHead = tf.matMul(hnT, dlog);
        if (cfg.tieWordEmbeddings) {
          const t = tf.transpose(dHead);
          addInto(g("model.embed_tokens.weight"), tensorValues(t), 0);
          t.dispose();
        } else addInto(g("lm_head.weight"), tensorValues(dHead), 0);
        const headT = tf.transpose(sv.head) as tf.Tensor2D;
        const y = tf.matMul(dlog, headT);
        f32.set(tensorValues(y), dhn);
        for (const t of [dlog, hnT, dHead, headT, y]) t.dispose();
        // The selected rows' input gradients go to their rows of dx.
        rmsNormBackward(f32, sv.xs, sv.finalNorm, dhn, S, d, eps, g("model.norm.weight"), dx, sv.sel);
      }
      for (let l = L - 1; l >= 0; l--) {
        const Lw = sv.layers[l];
        const p = `model.layers.${l}.`;
        // MLP: x' = xm + act·Wdown, act = silu(gate)·up, [gate|up] = rmsNorm(xm)·Wgu.
        K.swiGlu(sv.gu[l] * 4, act * 4, N, I * 4);
        addProduct(f32, act, N, I, dx, d, grads, [[this.index.get(p + "mlp.down_proj.weight")!, 0, d]]);
        productT(f32, dx, N, Lw.down, act); // act is free again: it now holds dL/dact
        K.swiGluBack(sv.gu[l] * 4, act * 4, dgu * 4, N, I * 4);
        K.rmsNorm(sv.xm[l] * 4, Lw.postNorm * 4, h * 4, N, d * 4, d, eps);
        addProduct(f32, h, N, d, dgu, 2 * I, grads, [
          [this.index.get(p + "mlp.gate_proj.weight")!, 0, I],
          [this.index.get(p + "mlp.up_proj.weight")!, I, I],
        ]);
        productT(f32, dgu, N, Lw.gateUp, dh);
        rmsNormBackward(f32, sv.xm[l], Lw.postNorm, dh, N, d, eps, g(p + "post_attention_layernorm.weight"), dx, null);
        // Attention: xm = x + att·Wo.
        addProduct(f32, sv.att[l], N, qDim, dx, d, grads, [[this.index.get(p + "self_attn.o_proj.weight")!, 0, d]]);
        productT(f32, dx, N, Lw.o, datt);
        f32.fill(0, dqkv, dqkv + N * W);
        // Segments as the forward pass attended: the trunk over itself, then each sequence over the trunk and itself.
        // A query's keys are the parent's P rows then its own; the scores, softmax and sums run over them in that
        // order, exactly as over one segment of P + n rows.
        const P = sv.trunk;
        const segments: Array<[number, number, number]> = [[0, P, 0], ...sv.segStart.map((r0, k): [number, number, number] => [r0, sv.segLen[k], P])];
        const tOff = (sv.qkv[l] + qDim) * 4; // the trunk's keys (row 0) in the forward's q|k|v rows
        const dtOff = (dqkv + qDim) * 4;
        for (const [r0, len, Pp] of segments) {
          const kBase = (sv.qkv[l] + r0 * W + qDim) * 4;
          const vBase = kBase + kvDim * 4;
          const dkBase = (dqkv + r0 * W + qDim) * 4;
          const dvBase = dkBase + kvDim * 4;
          for (let i = 0; i < len; i++) {
            const r = r0 + i;
            const n = i + 1;
            const total = Pp + n;
            const own = (s1 + Pp) * 4;
            const ownD = (s2 + Pp) * 4;
            for (let hh = 0; hh < H; hh++) {
              const kv = Math.floor(hh / rep) * hd * 4;
              const qh = (sv.qkv[l] + r * W + hh * hd) * 4;
              const doh = (datt + r * qDim + hh * hd) * 4;
              let max = K.scores(qh, kBase + kv, n, hd * 4, W * 4, scale, own);
              if (Pp > 0) max = Math.max(max, K.scores(qh, tOff + kv, Pp, hd * 4, W * 4, scale, s1 * 4));
              const sum = K.expSub(s1 * 4, total, max, 1);
              K.scores(doh, vBase + kv, n, hd * 4, W * 4, 1, ownD);
              if (Pp > 0) K.scores(doh, tOff + kvDim * 4 + kv, Pp, hd * 4, W * 4, 1, s2 * 4);
              // softmaxBack reads whole 4-float chunks: the lanes past the keys must be finite (p is 0 there).
              f32.fill(0, s2 + total, s2 + total + 3);
              // p = e / Σe; dS = p·(dP − Σ p·dP)·scale (the softmax and score-scale backward).
              K.softmaxBack(s1 * 4, s2 * 4, total, 1 / sum, scale);
              const dq = (dqkv + r * W + hh * hd) * 4;
              if (Pp > 0) K.accum(s2 * 4, tOff + kv, Pp, hd * 4, W * 4, dq);
              K.accum(ownD, kBase + kv, n, hd * 4, W * 4, dq);
              if (Pp > 0) {
                K.scatter(s2 * 4, qh, Pp, hd * 4, W * 4, dtOff + kv);
                K.scatter(s1 * 4, doh, Pp, hd * 4, W * 4, dtOff + kvDim * 4 + kv);
              }
              K.scatter(ownD, qh, n, hd * 4, W * 4, dkBase + kv);
              K.scatter(own, doh, n, hd * 4, W * 4, dvBase + kv);
            }
          }
        }
        // Rotary positions are a rotation: their backward is the rotation by the negated angle.
        const rope = this.rope!;
        K.rope(dqkv * 4, N, W * 4, H + cfg.numKeyValueHeads, hd * 4, rope.cos * 4, rope.negSin * 4, sv.pos * 4);
        K.rmsNorm(sv.x[l] * 4, Lw.inNorm * 4, h * 4, N, d * 4, d, eps);
        addProduct(f32, h, N, d, dqkv, W, grads, [
          [this.index.get(p + "self_attn.q_proj.weight")!, 0, qDim],
          [this.index.get(p + "self_attn.k_proj.weight")!, qDim, kvDim],
          [this.index.get(p + "self_attn.v_proj.weight")!, qDim + kvDim, kvDim],
        ]);
        productT(f32, dqkv, N, Lw.qkv, dh);
        rmsNormBackward(f32, sv.x[l], Lw.inNorm, dh, N, d, eps, g(p + "input_layernorm.weight"), dx, null);
      }
      // Embedding rows: scatter-add in row order.
      const dEmbed = g("model.embed_tokens.weight");
      for (let r = 0; r < N; r++) {
        const dst = sv.ids[r] * d;
        const src = dx + r * d;
        for (let j = 0; j < d; j++) dEmbed[dst + j] += f32[src + j];
      }
    } finally {
      A.release(offset, floats);
    }
  }

  /** Frees the forward pass's state (forward calls it; call it after a forward whose gradient is not needed). */
  release(): void {
    const sv = this.saved;
    if (sv === null) return;
    this.saved = null;
    for (const Lw of sv.layers) for (const t of [Lw.qkv, Lw.o, Lw.gateUp, Lw.down]) t.dispose();
    sv.head.dispose();
    this.arena.release(sv.block.offset, sv.block.floats);
  }

  private ensureRope(positions: number): void {
    if (this.rope !== null && this.rope.positions >= positions) return;
    const t = ropeTables(this.config.headDim, this.config.ropeTheta, Math.max(positions, 1), this.config.ropeScaling);
    const A = this.arena;
    const n = t.cos.length;
    const cos = A.alloc(n);
    const sin = A.alloc(n);
    const negSin = A.alloc(n);
    A.f32.set(t.cos, cos);
    A.f32.set(t.sin, sin);
    const f32 = A.f32;
    for (let i = 0; i < n; i++) f32[negSin + i] = -t.sin[i];
    if (this.rope !== null) for (const o of [this.rope.cos, this.rope.sin, this.rope.negSin]) A.release(o, this.rope.positions * this.config.headDim);
    this.rope = { positions: t.positions, cos, sin, negSin };
  }
}

/**
 * The number of leading rows every sequence can share: their common prefix, up to the row before the first
 * trained target of any of them (so a shared row never needs a sequence's own logits). Stage 3's micro-batches
 * are prompts and responses, and every prompt starts with the same template: computing it once per micro-batch
 * instead of once per sequence removes about a quarter of a step's rows (docs/BENCHMARKS.md). A sequence's rows then
 * get bit-for-bit the values they would alone; only the weight gradients' sums over rows are associated
 * differently. 0 (nothing shared) for a single sequence.
 */
export function sharedTrunk(seqs: readonly TokenSequence[]): number {
  if (seqs.length < 2) return 0;
  const first = seqs[0].ids;
  let P = Infinity;
  for (const s of seqs) {
    const rows = Math.max(0, s.ids.length - 1);
    const target = s.lossMask === undefined ? 1 : s.lossMask.indexOf(1);
    P = Math.min(P, target >= 1 ? target - 1 : rows);
    let c = 0;
    while (c < P && c < s.ids.length && s.ids[c] === first[c]) c++;
    P = c;
  }
  return P === Infinity ? 0 : P;
}

/**
 * Adds (f32[a] as [rows, inDim])ᵀ · (f32[dy] as [rows, outDim]) into parameter gradients: part [i, c0, w] takes
 * columns c0 … c0 + w − 1. XNNPACK repacks its right operand on every call (rows × its columns, here thousands of
 * rows), so the operand with fewer columns goes on the right: dWᵀ = dYᵀ·A when outDim > inDim (measured 1.6–2×
 * faster). The left operand is transposed here in JavaScript: tfjs's transpose was slower, and a transposed
 * operand leaves XNNPACK's fast path.
 */
function addProduct(f32: Float32Array, a: number, rows: number, inDim: number, dy: number, outDim: number, grads: Float32Array[], parts: Array<[number, number, number]>): void {
  const swap = outDim > inDim;
  const [left, lc, right, rc] = swap ? [dy, outDim, a, inDim] : [a, inDim, dy, outDim];
  const lt = transposeToScratch(f32, left, rows, lc);
  const prod = tf.tidy(() => tf.matMul(tf.tensor2d(lt, [lc, rows]), tf.tensor2d(f32.subarray(right, right + rows * rc), [rows, rc])));
  const v = tensorValues(prod);
  for (const [i, c0, w] of parts) {
    const gi = grads[i];
    for (let r = 0; r < inDim; r++) {
      const dst = r * w;
      if (swap) for (let j = 0; j < w; j++) gi[dst + j] += v[(c0 + j) * inDim + r];
      else for (let j = 0; j < w; j++) gi[dst + j] += v[r * outDim + c0 + j];
    }
  }
  prod.dispose();
}

let scratch = new Float32Array(0);

/** (f32[x] as [rows, cols])ᵀ in a reused buffer (valid until the next call), in 16-row blocks for locality. */
function transposeToScratch(f32: Float32Array, x: number, rows: number, cols: number): Float32Array {
  if (scratch.length < rows * cols) scratch = new Float32Array(rows * cols);
  const out = scratch.subarray(0, rows * cols);
  for (let r0 = 0; r0 < rows; r0 += 16) {
    const r1 = Math.min(rows, r0 + 16);
    for (let c = 0; c < cols; c++) {
      const o = c * rows;
      for (let r = r0; r < r1; r++) out[o + r] = f32[x + r * cols + c];
    }
  }
  return out;
}

/** f32[dst] = (f32[dy] as [rows, outDim]) · Wᵀ for W [inDim, outDim]. */
function productT(f32: Float32Array, dy: number, rows: number, w: tf.Tensor2D, dst: number): void {
  const wT = tf.transpose(w) as tf.Tensor2D;
  matmulInto(f32, dy, rows, wT, dst);
  wT.dispose();
}

/**
 * Backward of y = x / rms(x) · w over `rows` rows of x (float offset `x`, gain at `w`) given dy: adds dL/dw into
 * `dw` and dL/dx into the rows of `dx` (row j goes to row outRows[j], or row j when outRows is null).
 */
function rmsNormBackward(f32: Float32Array, x: number, w: number, dy: number, rows: number, d: number, eps: number, dw: Float32Array, dx: number, outRows: Int32Array | null): void {
  const dwAcc = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const xr = x + r * d;
    const gr = dy + r * d;
    const or = dx + (outRows === null ? r : outRows[r]) * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += f32[xr + j] * f32[xr + j];
    const rstd = 1 / Math.sqrt(ss / d + eps);
    let dot = 0;
    for (let j = 0; j < d; j++) dot += f32[gr + j] * f32[w + j] * f32[xr + j];
    const c = (rstd * rstd * rstd * dot) / d;
    for (let j = 0; j < d; j++) {
      f32[or + j] += rstd * f32[w + j] * f32[gr + j] - f32[xr + j] * c;
      dwAcc[j] += f32[gr + j] * f32[xr + j] * rstd;
    }
  }
  for (let j = 0; j < d; j++) dw[j] += dwAcc[j];
}

/** grads[i] += v elementwise (a parameter's whole gradient). */
function addInto(grad: Float32Array, v: Float32Array, offset: number): void {
  for (let i = 0; i < grad.length; i++) grad[i] += v[offset + i];
}
