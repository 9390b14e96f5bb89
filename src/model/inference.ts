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
import { KernelArena, simdAvailable } from "./kernels.js";

/**
 * Keys and values of one sequence, per layer, stored head-major — [kvHeads][capacity][headDim] — in the model's
 * wasm arena (where the SIMD attention kernels read them). Head-major keeps each head's keys contiguous: decoding
 * many sequences at once streams every cache from memory once per step, and reading one head's 128 bytes out of
 * every interleaved [head][headDim] row made that stream about 2× slower (bench/kv-layout.ts, docs/BENCHMARKS.md). A
 * cache can extend a read-only `parent` (a shared prompt or prefix): positions < parent length are read from
 * the parent, so many continuations reuse one encoded prefix without copying it. `release()` returns the
 * memory; caches that are dropped without it are reclaimed when garbage-collected.
 */
export class KvCache {
  readonly parent: KvCache | null;
  /** Positions taken from the parent (its length when this cache was created). */
  readonly base: number;
  /** Own positions written so far. */
  own = 0;
  private capacity: number;
  private block: number;
  private released = false;
  private readonly kvDim: number;

  constructor(
    private readonly arena: KernelArena,
    private readonly layers: number,
    private readonly kvHeads: number,
    private readonly headDim: number,
    capacity: number,
    parent: KvCache | null = null,
  ) {
    this.kvDim = kvHeads * headDim;
    this.parent = parent;
    this.base = parent === null ? 0 : parent.length;
    this.capacity = Math.max(1, capacity);
    this.block = arena.alloc(this.blockFloats(this.capacity));
    registry.register(this, { arena, block: this.block, floats: this.blockFloats(this.capacity) }, this);
  }

  /** Total positions visible to the next token (parent's + own). */
  get length(): number {
    return this.base + this.own;
  }

  /** Floats from one kv head's positions to the next head's (in a layer's keys or values). */
  get headStride(): number {
    return this.capacity * this.headDim;
  }

  /** Float offset (in the arena) of layer `layer`'s keys: kv head 0, own position 0. */
  kOffset(layer: number): number {
    this.check();
    return this.block + layer * this.capacity * this.kvDim;
  }

  vOffset(layer: number): number {
    this.check();
    return this.block + (this.layers + layer) * this.capacity * this.kvDim;
  }

  /** Writes one position's keys and values ([kvDim] floats each, heads side by side, at float offsets k, v). */
  store(layer: number, position: number, k: number, v: number): void {
    const f32 = this.arena.f32;
    const hd = this.headDim;
    const at = (position - this.base) * hd;
    const stride = this.capacity * hd;
    const ko = this.kOffset(layer) + at;
    const vo = this.vOffset(layer) + at;
    for (let g = 0; g < this.kvHeads; g++) {
      f32.copyWithin(ko + g * stride, k + g * hd, k + (g + 1) * hd);
      f32.copyWithin(vo + g * stride, v + g * hd, v + (g + 1) * hd);
    }
  }

  /** A child cache that continues this one (which must not grow or be released while the child lives). */
  fork(capacity = 16): KvCache {
    return new KvCache(this.arena, this.layers, this.kvHeads, this.headDim, capacity, this);
  }

  ensure(extra: number): void {
    this.check();
    const need = this.own + extra;
    if (need <= this.capacity) return;
    let cap = this.capacity;
    while (cap < need) cap *= 2;
    const oldBlock = this.block;
    const oldCap = this.capacity;
    const block = this.arena.alloc(this.blockFloats(cap));
    const f32 = this.arena.f32;
    const used = this.own * this.headDim;
    for (let i = 0; i < 2 * this.layers * this.kvHeads; i++) f32.copyWithin(block + i * cap * this.headDim, oldBlock + i * oldCap * this.headDim, oldBlock + i * oldCap * this.headDim + used);
    registry.unregister(this);
    this.arena.release(oldBlock, this.blockFloats(oldCap));
    this.block = block;
    this.capacity = cap;
    registry.register(this, { arena: this.arena, block, floats: this.blockFloats(cap) }, this);
  }

  /** The own positions' keys and values, [2 · layers · kvHeads][own, headDim] concatenated (to rebuild the cache elsewhere). */
  exportOwn(): Float32Array {
    this.check();
    const n = this.own * this.headDim;
    const out = new Float32Array(2 * this.layers * this.kvHeads * n);
    for (let i = 0; i < 2 * this.layers * this.kvHeads; i++) out.set(this.arena.f32.subarray(this.block + i * this.capacity * this.headDim, this.block + i * this.capacity * this.headDim + n), i * n);
    return out;
  }

  /** Appends positions exported by `exportOwn()` of a cache of the same model (this cache must be empty). */
  importOwn(data: Float32Array): void {
    const per = 2 * this.layers * this.kvDim;
    if (this.own !== 0 || data.length % per !== 0) throw new Error("KvCache.importOwn: needs an empty cache and data from exportOwn() of the same model");
    const positions = data.length / per;
    this.ensure(positions);
    const n = positions * this.headDim;
    for (let i = 0; i < 2 * this.layers * this.kvHeads; i++) this.arena.f32.set(data.subarray(i * n, (i + 1) * n), this.block + i * this.capacity * this.headDim);
    this.own = positions;
  }

  /** Frees the cache's memory; using it afterwards throws. */
  release(): void {
    if (this.released) return;
    this.released = true;
    registry.unregister(this);
    this.arena.release(this.block, this.blockFloats(this.capacity));
  }

  private blockFloats(capacity: number): number {
    return 2 * this.layers * capacity * this.kvDim;
  }

  private check(): void {
    if (this.released) throw new Error("KvCache used after release()");
  }
}

/** Steps with at most this many rows reuse one workspace (decoding); larger ones allocate their own. */
const SMALL_STEP_ROWS = 64;

const registry = new FinalizationRegistry<{ arena: KernelArena; block: number; floats: number }>((held) => held.arena.release(held.block, held.floats));

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
  /** Float offsets in the arena of the optional attention parts (−1 where the architecture has none): the q|k|v
   * bias [qDim + 2·kvDim] and o_proj bias [d] (Qwen2, attention_bias), the q and k head norms [headDim] (Qwen3). */
  qkvBias: number;
  oBias: number;
  qNorm: number;
  kNorm: number;
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
  /** Wasm memory holding every KV cache of this model (one per thread). */
  readonly arena: KernelArena;
  private readonly useKernels: boolean;
  /** Float offsets of the norm weights' copies in the arena: per layer input then post-attention, then the final norm. */
  private readonly normOffsets: number[] = [];
  /** Buffers for steps of at most SMALL_STEP_ROWS rows, allocated once. */
  private smallWorkspace: { block: number; floats: number } | null = null;
  /** The rotary tables' copy in the arena (float offsets), for the tables it was made from. */
  private ropeArena: { tables: RopeTables; cos: number; sin: number } | null = null;

  /** Builds the inference weights (tfjs tensors on the current backend: call `initTf()` first). */
  constructor(config: LlamaConfig, weights: LlamaWeights) {
    this.config = config;
    this.arena = new KernelArena(config.headDim);
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
    const toArena = (w: Float32Array): number => {
      const off = this.arena.alloc(w.length);
      this.arena.f32.set(w, off);
      return off;
    };
    for (let l = 0; l < config.numHiddenLayers; l++) {
      const p = `model.layers.${l}.`;
      const attn = p + "self_attn.";
      this.layers.push({
        qkvBias: config.qkvBias ? toArena(concatColumns([get(attn + "q_proj.bias"), get(attn + "k_proj.bias"), get(attn + "v_proj.bias")], 1, [this.qDim, this.kvDim, this.kvDim])) : -1,
        oBias: config.oBias ? toArena(get(attn + "o_proj.bias")) : -1,
        qNorm: config.qkNorm ? toArena(get(attn + "q_norm.weight")) : -1,
        kNorm: config.qkNorm ? toArena(get(attn + "k_norm.weight")) : -1,
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
    this.rope = ropeTables(config.headDim, config.ropeTheta, Math.min(config.maxPositionEmbeddings, 4096), config.ropeScaling);
    // The kernels process rows in 4-float chunks.
    this.useKernels = config.headDim % 4 === 0 && d % 4 === 0 && I % 4 === 0 && simdAvailable();
    for (const w of [...this.layers.flatMap((L) => [L.inputNorm, L.postNorm]), this.finalNorm]) {
      const off = this.arena.alloc(d);
      this.arena.f32.set(w, off);
      this.normOffsets.push(off);
    }
  }

  newCache(capacity = 64): KvCache {
    return new KvCache(this.arena, this.config.numHiddenLayers, this.config.numKeyValueHeads, this.config.headDim, capacity);
  }

  /**
   * Runs the new tokens of every input through the model, appending to their caches. Returns, per input,
   * the logits of the requested positions as one Float32Array [positions, V] (empty for "none").
   */
  forward(inputs: readonly StepInput[]): Float32Array[] {
    const V = this.config.vocabSize;
    const res = this.run(inputs, false);
    if (res === null) return inputs.map(() => new Float32Array(0));
    return res.counts.map((count, i) => res.logits.slice(res.first[i] * V, (res.first[i] + count) * V));
  }

  /**
   * Like `forward`, but returns the log-probabilities (logits − log Σ exp logits, in float32) of every
   * requested row in one array [rows, V]; input i's rows start at row `first[i]`. The scorer's path: one
   * log-softmax over the whole block (SIMD), no per-position arrays. With `view`, `logp` may be a view into
   * the model's arena, valid only until the next call on this model (saves a copy when the caller copies
   * what it keeps anyway).
   */
  forwardLogProbs(inputs: readonly StepInput[], opts: { view?: boolean } = {}): { logp: Float32Array; first: number[]; counts: number[] } {
    const res = this.run(inputs, true, opts.view === true);
    if (res === null) return { logp: new Float32Array(0), first: inputs.map(() => 0), counts: inputs.map(() => 0) };
    return { logp: res.logits, first: res.first, counts: res.counts };
  }

  /** The forward pass; the rows' logits, or with `logSoftmax` their log-probabilities. */
  private run(inputs: readonly StepInput[], logSoftmax: boolean, view = false): { logits: Float32Array; first: number[]; counts: number[] } | null {
    const cfg = this.config;
    const d = cfg.hiddenSize;
    const I = cfg.intermediateSize;
    const V = cfg.vocabSize;
    const width = this.qDim + 2 * this.kvDim;
    let N = 0;
    for (const inp of inputs) N += inp.tokens.length;
    // Rows that need logits (input i's are first[i] … first[i] + counts[i] − 1 of them).
    const want: number[] = [];
    const first: number[] = [];
    const counts: number[] = [];
    {
      let r = 0;
      for (const inp of inputs) {
        const n = inp.tokens.length;
        first.push(want.length);
        if (inp.logits === "all") for (let i = 0; i < n; i++) want.push(r + i);
        else if (inp.logits === "last" && n > 0) want.push(r + n - 1);
        counts.push(want.length - first[first.length - 1]);
        r += n;
      }
    }
    if (N === 0) return null;
    // Row r belongs to input rowSeq[r] at absolute position rowPos[r].
    const rowSeq = new Int32Array(N);
    const rowPos = new Int32Array(N);
    for (const inp of inputs) for (const tok of inp.tokens) if (!Number.isInteger(tok) || tok < 0 || tok >= V) throw new Error(`token id ${tok} is outside the vocabulary (0…${V - 1})`);
    for (const inp of inputs) inp.cache.ensure(inp.tokens.length);
    const A = this.arena;
    // Per-row buffers, carved from one arena block (kept between calls for small steps: decoding).
    const ws = this.workspace(N);
    const bx = ws.block;
    const bh = bx + N * d;
    const bt = bh + N * d;
    const bqkv = bt + N * d;
    const battn = bqkv + N * width;
    const bgu = battn + N * this.qDim;
    const bact = bgu + N * 2 * I;
    const bpos = bact + N * I;
    let maxPos = 0;
    {
      const f32 = A.f32;
      let r = 0;
      inputs.forEach((inp, s) => {
        const start = inp.cache.length;
        inp.tokens.forEach((tok, i) => {
          f32.set(this.embed.subarray(tok * d, tok * d + d), bx + r * d);
          rowSeq[r] = s;
          rowPos[r] = start + i;
          if (start + i > maxPos) maxPos = start + i;
          r++;
        });
      });
    }
    if (maxPos >= this.rope.positions) this.rope = ropeTables(cfg.headDim, cfg.ropeTheta, maxPos + 1, cfg.ropeScaling);
    const scratch = A.ensureScratch(maxPos + 8);
    // Row positions (i32) and the rotary tables in the arena, for the rope kernel.
    const useRopeKernel = this.useKernels && cfg.headDim % 8 === 0;
    new Int32Array(A.memory.buffer, bpos * 4, N).set(rowPos);
    if (useRopeKernel && this.ropeArena?.tables !== this.rope) {
      if (this.ropeArena) {
        A.release(this.ropeArena.cos, this.ropeArena.tables.cos.length);
        A.release(this.ropeArena.sin, this.ropeArena.tables.sin.length);
      }
      const cos = A.alloc(this.rope.cos.length);
      const sin = A.alloc(this.rope.sin.length);
      A.f32.set(this.rope.cos, cos);
      A.f32.set(this.rope.sin, sin);
      this.ropeArena = { tables: this.rope, cos, sin };
    }
    const f32 = A.f32; // stable from here on: nothing below allocates in the arena

    try {
      for (let l = 0; l < cfg.numHiddenLayers; l++) {
        const L = this.layers[l];
        this.rmsNorm(bx, L.inputNorm, this.normOffsets[2 * l], bh, N);
        matmulInto(f32, bh, N, L.qkv, bqkv);
        // Skipped entirely for Llama: the plain path pays one comparison per layer.
        if (L.qkvBias >= 0) this.addBias(bqkv, L.qkvBias, N, width);
        if (L.qNorm >= 0) this.headNorms(bqkv, L, N);
        if (useRopeKernel) {
          const ra = this.ropeArena!;
          A.kernels.rope(bqkv * 4, N, width * 4, cfg.numAttentionHeads + cfg.numKeyValueHeads, cfg.headDim * 4, ra.cos * 4, ra.sin * 4, bpos * 4);
          this.storeKv(f32, bqkv, N, rowSeq, rowPos, inputs, l);
        } else this.ropeAndStore(f32, bqkv, N, rowSeq, rowPos, inputs, l);
        this.attention(f32, bqkv, N, rowSeq, rowPos, inputs, l, battn, scratch);
        matmulInto(f32, battn, N, L.o, bt);
        if (L.oBias >= 0) this.addBias(bt, L.oBias, N, d);
        this.addTo(bx, bt, N * d);
        this.rmsNorm(bx, L.postNorm, this.normOffsets[2 * l + 1], bh, N);
        matmulInto(f32, bh, N, L.gateUp, bgu);
        this.swiGlu(bgu, bact, N);
        matmulInto(f32, bact, N, L.down, bt);
        this.addTo(bx, bt, N * d);
      }
      for (const inp of inputs) inp.cache.own += inp.tokens.length;
      if (want.length === 0) return null;

      // Final norm and head only for the rows that asked (in place: bh holds the selected rows).
      const W = want.length;
      if (W === N) this.rmsNorm(bx, this.finalNorm, this.normOffsets[this.normOffsets.length - 1], bh, N);
      else {
        want.forEach((row, i) => f32.copyWithin(bt + i * d, bx + row * d, bx + row * d + d));
        this.rmsNorm(bt, this.finalNorm, this.normOffsets[this.normOffsets.length - 1], bh, W);
      }
      if (logSoftmax && this.useKernels) {
        // Head into the arena, row statistics (max, Σ exp) in wasm, log Z per row, subtract in wasm.
        // softmaxStats reads up to 3 floats past the last row.
        const bl = A.alloc(W * V + 4);
        const bs = A.alloc(2 * W);
        try {
          const g = A.f32;
          matmulInto(g, bh, W, this.head, bl);
          A.kernels.softmaxStats(bl * 4, W, V, bs * 4);
          // log Z of row i into bs[i] (stats of row i are at 2i, 2i + 1 ≥ i: read before overwritten).
          for (let i = 0; i < W; i++) g[bs + i] = g[bs + 2 * i] + Math.log(g[bs + 2 * i + 1]);
          A.kernels.subRows(bl * 4, W, V, bs * 4);
          return { logits: view ? g.subarray(bl, bl + W * V) : g.slice(bl, bl + W * V), first, counts };
        } finally {
          A.release(bl, W * V + 4);
          A.release(bs, 2 * W);
        }
      }
      const logits = matmul(f32.subarray(bh, bh + W * d), W, this.head);
      if (logSoftmax) {
        for (let i = 0; i < W; i++) {
          let max = -Infinity;
          for (let j = i * V; j < (i + 1) * V; j++) if (logits[j] > max) max = logits[j];
          let sum = 0;
          for (let j = i * V; j < (i + 1) * V; j++) sum += Math.exp(logits[j] - max);
          const logZ = Math.fround(max + Math.log(sum));
          for (let j = i * V; j < (i + 1) * V; j++) logits[j] -= logZ;
        }
      }
      return { logits, first, counts };
    } finally {
      if (ws !== this.smallWorkspace) A.release(ws.block, ws.floats);
    }
  }

  /** Floats per row of the forward's buffers: x, h, tmp, qkv, attention out, gate|up, act, position. */
  private rowFloats(): number {
    const { hiddenSize: d, intermediateSize: I } = this.config;
    return 3 * d + (this.qDim + 2 * this.kvDim) + this.qDim + 3 * I + 1;
  }

  private workspace(N: number): { block: number; floats: number } {
    const floats = N * this.rowFloats() + 4;
    if (N > SMALL_STEP_ROWS) return { block: this.arena.alloc(floats), floats };
    if (this.smallWorkspace === null) {
      const all = SMALL_STEP_ROWS * this.rowFloats() + 4;
      this.smallWorkspace = { block: this.arena.alloc(all), floats: all };
    }
    return this.smallWorkspace;
  }

  /** out rows = x rows / rms · weight (offsets in floats; `wOff` is the weight's copy in the arena). */
  private rmsNorm(x: number, weight: Float32Array, wOff: number, out: number, rows: number): void {
    const d = this.config.hiddenSize;
    const eps = this.config.rmsNormEps;
    if (this.useKernels) {
      this.arena.kernels.rmsNorm(x * 4, wOff * 4, out * 4, rows, d * 4, d, eps);
      return;
    }
    const f = this.arena.f32;
    for (let r = 0; r < rows; r++) {
      const b = x + r * d;
      let ss = 0;
      for (let j = 0; j < d; j++) ss += f[b + j] * f[b + j];
      const inv = 1 / Math.sqrt(ss / d + eps);
      const o = out + r * d;
      for (let j = 0; j < d; j++) f[o + j] = f[b + j] * inv * weight[j];
    }
  }

  /** Each of `rows` rows of `width` floats at x += the bias at b (float offsets in the arena). */
  private addBias(x: number, b: number, rows: number, width: number): void {
    if (this.useKernels) {
      const addTo = this.arena.kernels.addTo;
      for (let r = 0; r < rows; r++) addTo((x + r * width) * 4, b * 4, width * 4);
      return;
    }
    const f = this.arena.f32;
    for (let r = 0; r < rows; r++) {
      const o = x + r * width;
      for (let j = 0; j < width; j++) f[o + j] += f[b + j];
    }
  }

  /** Qwen3: RMSNorm over every q head (q_norm) and k head (k_norm) of each q|k|v row, in place, before rotary positions. */
  private headNorms(qkv: number, L: LayerParams, rows: number): void {
    const { headDim: hd, numAttentionHeads: H, numKeyValueHeads: kvH, rmsNormEps: eps } = this.config;
    const width = this.qDim + 2 * this.kvDim;
    if (this.useKernels) {
      const norm = this.arena.kernels.rmsNorm;
      for (let r = 0; r < rows; r++) {
        const q = (qkv + r * width) * 4;
        const k = q + this.qDim * 4;
        norm(q, L.qNorm * 4, q, H, hd * 4, hd, eps);
        norm(k, L.kNorm * 4, k, kvH, hd * 4, hd, eps);
      }
      return;
    }
    const f = this.arena.f32;
    for (let r = 0; r < rows; r++) {
      // q heads then k heads lie back to back at the start of the row.
      for (let h = 0; h < H + kvH; h++) {
        const o = qkv + r * width + h * hd;
        const w = h < H ? L.qNorm : L.kNorm;
        let ss = 0;
        for (let j = 0; j < hd; j++) ss += f[o + j] * f[o + j];
        const inv = 1 / Math.sqrt(ss / hd + eps);
        for (let j = 0; j < hd; j++) f[o + j] = f[o + j] * inv * f[w + j];
      }
    }
  }

  private addTo(x: number, y: number, n: number): void {
    if (this.useKernels) {
      this.arena.kernels.addTo(x * 4, y * 4, n * 4);
      return;
    }
    const f = this.arena.f32;
    for (let i = 0; i < n; i++) f[x + i] += f[y + i];
  }

  /** act = silu(gate) · up for every row of gu = [gate | up]. */
  private swiGlu(gu: number, act: number, rows: number): void {
    const I = this.config.intermediateSize;
    if (this.useKernels) {
      this.arena.kernels.swiGlu(gu * 4, act * 4, rows, I * 4);
      return;
    }
    const f = this.arena.f32;
    for (let row = 0; row < rows; row++) {
      const gb = gu + row * 2 * I;
      const ab = act + row * I;
      for (let j = 0; j < I; j++) {
        const g = f[gb + j];
        f[ab + j] = (g / (1 + Math.exp(-g))) * f[gb + I + j];
      }
    }
  }

  /** k and v of each qkv row into its sequence's cache. */
  private storeKv(f32: Float32Array, qkvOff: number, N: number, rowSeq: Int32Array, rowPos: Int32Array, inputs: readonly StepInput[], layer: number): void {
    const width = this.qDim + 2 * this.kvDim;
    for (let row = 0; row < N; row++) {
      const base = qkvOff + row * width + this.qDim;
      inputs[rowSeq[row]].cache.store(layer, rowPos[row], base, base + this.kvDim);
    }
  }

  /** Rotary positions on q and k (in place in the qkv rows at float offset `qkv`), then k and v into each sequence's cache. */
  private ropeAndStore(f32: Float32Array, qkvOff: number, N: number, rowSeq: Int32Array, rowPos: Int32Array, inputs: readonly StepInput[], layer: number): void {
    const hd = this.config.headDim;
    const half = hd / 2;
    const width = this.qDim + 2 * this.kvDim;
    const heads = this.config.numAttentionHeads + this.config.numKeyValueHeads;
    const { cos, sin } = this.rope;
    for (let row = 0; row < N; row++) {
      const pos = rowPos[row];
      const cb = pos * hd;
      const base = qkvOff + row * width;
      for (let hIdx = 0; hIdx < heads; hIdx++) {
        const o = base + hIdx * hd;
        for (let i = 0; i < half; i++) {
          const a = f32[o + i];
          const b = f32[o + half + i];
          // x·cos + rotate_half(x)·sin, rotate_half(x) = [−x2, x1]; rounded to float32 like torch.
          f32[o + i] = Math.fround(Math.fround(a * cos[cb + i]) + Math.fround(-b * sin[cb + i]));
          f32[o + half + i] = Math.fround(Math.fround(b * cos[cb + half + i]) + Math.fround(a * sin[cb + half + i]));
        }
      }
      inputs[rowSeq[row]].cache.store(layer, pos, base + this.qDim, base + this.qDim + this.kvDim);
    }
  }

  /** Causal attention of each row over its own sequence (parent positions, then own ones up to the row). */
  private attention(f32: Float32Array, qkvOff: number, N: number, rowSeq: Int32Array, rowPos: Int32Array, inputs: readonly StepInput[], layer: number, out: number, scratch: number): void {
    const cfg = this.config;
    const hd = cfg.headDim;
    const H = cfg.numAttentionHeads;
    const rep = H / cfg.numKeyValueHeads;
    const kvDim = this.kvDim;
    const qDim = this.qDim;
    const width = qDim + 2 * kvDim;
    const scale = 1 / Math.sqrt(hd);
    if (this.useKernels) {
      // One wasm call per row: all heads, scores, softmax and the weighted sum of values.
      const attendRow = this.arena.kernels.attendRow;
      for (let row = 0; row < N; row++) {
        const cache = inputs[rowSeq[row]].cache;
        const T = rowPos[row] + 1;
        const P = Math.min(cache.base, T);
        const parent = cache.parent;
        const kp = parent !== null ? parent.kOffset(layer) : 0;
        const vp = parent !== null ? parent.vOffset(layer) : 0;
        const pHead = parent !== null ? parent.headStride : 0;
        attendRow(
          (qkvOff + row * width) * 4, kp * 4, vp * 4, P, pHead * 4,
          cache.kOffset(layer) * 4, cache.vOffset(layer) * 4, T - P, cache.headStride * 4,
          H, rep, hd * 4, hd * 4, scale, scratch * 4, (out + row * qDim) * 4,
        );
      }
      return;
    }
    for (let row = 0; row < N; row++) {
      const cache = inputs[rowSeq[row]].cache;
      const T = rowPos[row] + 1;
      const P = Math.min(cache.base, T);
      if (this.scores.length < T) this.scores = new Float32Array(T * 2);
      const scores = this.scores;
      const parent = cache.parent;
      const kp = parent !== null ? parent.kOffset(layer) : 0;
      const vp = parent !== null ? parent.vOffset(layer) : 0;
      const ko = cache.kOffset(layer);
      const vo = cache.vOffset(layer);
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / rep);
        const pOff = parent !== null ? g * parent.headStride : 0;
        const oOff = g * cache.headStride;
        const qo = qkvOff + row * width + h * hd;
        let max = -Infinity;
        for (let t = 0; t < T; t++) {
          const s = dot(f32, qo, f32, t < P ? kp + pOff + t * hd : ko + oOff + (t - P) * hd, hd) * scale;
          scores[t] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let t = 0; t < T; t++) {
          const e = Math.exp(scores[t] - max);
          scores[t] = e;
          sum += e;
        }
        const inv = 1 / sum;
        const ob = out + row * qDim + h * hd;
        f32.fill(0, ob, ob + hd);
        for (let t = 0; t < T; t++) axpy(f32, ob, f32, t < P ? vp + pOff + t * hd : vo + oOff + (t - P) * hd, scores[t] * inv, hd);
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

/** The wasm backend's heap and a tensor's offset in it, to copy results out without an intermediate array. */
interface WasmBackendInternals {
  wasm: { HEAPF32: Float32Array };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
}

/** f32[x … x + rows·in] · W into f32[dst …] (float offsets), copying straight from the tfjs wasm heap when it can. */
export function matmulInto(f32: Float32Array, x: number, rows: number, w: tf.Tensor2D, dst: number): void {
  const a = tf.tensor2d(f32.subarray(x, x + rows * w.shape[0]), [rows, w.shape[0]]);
  const y = tf.matMul(a, w);
  f32.set(tensorValues(y), dst);
  a.dispose();
  y.dispose();
}

/**
 * A float32 tensor's values: a view into the tfjs wasm heap when the backend exposes it (valid only until the
 * next tfjs operation, which may grow the heap), otherwise a copy.
 */
export function tensorValues(t: tf.Tensor): Float32Array {
  const be = tf.backend() as unknown as Partial<WasmBackendInternals>;
  const info = be.dataIdMap?.get(t.dataId);
  if (be.wasm?.HEAPF32 !== undefined && info !== undefined && typeof info.memoryOffset === "number") {
    const off = info.memoryOffset / 4;
    return be.wasm.HEAPF32.subarray(off, off + t.size);
  }
  return t.dataSync() as Float32Array;
}

/** Column-concatenates [d, w_i] matrices into [d, Σ w_i]. */
export function concatColumns(parts: Float32Array[], d: number, widths: number[]): Float32Array {
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
