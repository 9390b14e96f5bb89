/**
 * Batched generation with continuous batching: every request's prompt is encoded once, its n completions
 * fork the prompt's KV cache, and all live completions of all requests advance together, one token per step.
 * Requests submitted while others run join at the next step.
 *
 * Reproducibility: completion i of a request draws from `new Rng(deriveSeed(seed, i))` and its logits depend
 * only on its own tokens (see ./inference.ts), so it is the same whether the request runs alone or beside others.
 */
import { deriveSeed, Rng } from "../util/rng.js";
import type { InferenceModel, KvCache, StepInput } from "./inference.js";
import { Sampler } from "./sampler.js";
import type { ModelTokenizer, TokenStreamDecoder } from "./tokenizer.js";

export interface GenerationRequest {
  promptIds: readonly number[];
  n: number;
  seed: number;
  /**
   * Index of the first completion (default 0): completions firstIndex … firstIndex+n−1 are drawn, each from
   * Rng(deriveSeed(seed, index)). Lets an engine split one request's n across workers with identical results.
   */
  firstIndex?: number;
  temperature: number;
  topP: number;
  topK: number;
  maxTokens: number;
  stop?: readonly string[];
  /** Extra stop tokens; the model's EOS ids always stop. */
  stopTokenIds?: readonly number[];
}

export interface GeneratedCompletion {
  index: number;
  text: string;
  tokenIds: number[];
  finishReason: "stop" | "length";
  stopReason?: string | number;
}

interface LiveSequence {
  request: PendingRequest;
  index: number;
  rng: Rng;
  cache: KvCache;
  tokens: number[];
  /** Text length after each token (to drop a stop string's tokens). */
  textEnds: number[];
  decoder: TokenStreamDecoder;
  /** The token sampled but not yet fed to the model. */
  next: number;
}

interface PendingRequest {
  req: GenerationRequest;
  stopIds: Set<number>;
  maxStopLen: number;
  results: Array<GeneratedCompletion | undefined>;
  remaining: number;
  /** The encoded prompt every completion forks; released when the last completion ends. */
  promptCache?: KvCache;
  resolve: (c: GeneratedCompletion[]) => void;
  reject: (e: unknown) => void;
}

export interface BatchGeneratorOptions {
  /** Largest number of sequences advanced in one step (bounds memory and step latency). */
  maxBatch?: number;
  /** Longest sequence (prompt + completion); generation ends with "length" there. */
  maxContext?: number;
}

export class BatchGenerator {
  private readonly sampler = new Sampler();
  private queue: PendingRequest[] = [];
  private live: LiveSequence[] = [];
  private running = false;
  private readonly maxBatch: number;
  private readonly maxContext: number;

  constructor(
    private readonly model: InferenceModel,
    private readonly tokenizer: ModelTokenizer,
    private readonly eosIds: readonly number[],
    opts: BatchGeneratorOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxContext = opts.maxContext ?? model.config.maxPositionEmbeddings;
  }

  /** Completions of one request, in index order. */
  generate(req: GenerationRequest): Promise<GeneratedCompletion[]> {
    validateRequest(req, this.model.config.vocabSize);
    return new Promise((resolve, reject) => {
      const stopIds = new Set<number>([...this.eosIds, ...(req.stopTokenIds ?? [])]);
      const maxStopLen = Math.max(0, ...(req.stop ?? []).map((s) => s.length));
      this.queue.push({ req, stopIds, maxStopLen, results: new Array(req.n), remaining: req.n, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => this.loop());
      }
    });
  }

  private loop(): void {
    try {
      this.admit();
      if (this.live.length > 0) this.step();
    } catch (err) {
      // A failure inside a step poisons every request in flight; report it to all of them.
      const all = new Set<PendingRequest>([...this.queue, ...this.live.map((s) => s.request)]);
      this.queue = [];
      this.live = [];
      for (const r of all) r.reject(err);
    }
    if (this.live.length > 0 || this.queue.length > 0) setImmediate(() => this.loop());
    else this.running = false;
  }

  /** Encodes waiting prompts (while there is room) and samples each completion's first token. */
  private admit(): void {
    const admitted: PendingRequest[] = [];
    let room = this.maxBatch - this.live.length;
    while (this.queue.length > 0 && (room >= this.queue[0].req.n || (this.live.length === 0 && admitted.length === 0))) {
      const r = this.queue.shift()!;
      admitted.push(r);
      room -= r.req.n;
    }
    if (admitted.length === 0) return;
    const caches = admitted.map((r) => this.model.newCache(r.req.promptIds.length));
    const logits = this.model.forward(admitted.map((r, i) => ({ cache: caches[i], tokens: r.req.promptIds, logits: "last" as const })));
    admitted.forEach((r, k) => {
      r.promptCache = caches[k];
      for (let i = 0; i < r.req.n; i++) {
        const index = (r.req.firstIndex ?? 0) + i;
        const seq: LiveSequence = {
          request: r,
          index,
          rng: new Rng(deriveSeed(r.req.seed, index)),
          cache: caches[k].fork(Math.min(r.req.maxTokens, 64)),
          tokens: [],
          textEnds: [],
          decoder: this.tokenizer.streamDecoder(),
          next: -1,
        };
        if (r.req.maxTokens === 0 || caches[k].length >= this.maxContext) this.finish(seq, "length");
        else this.accept(seq, this.sampler.sample(logits[k], r.req, seq.rng));
      }
    });
  }

  /** Feeds every live sequence its pending token and samples the next one. */
  private step(): void {
    const batch = this.live.slice();
    const inputs: StepInput[] = batch.map((s) => ({ cache: s.cache, tokens: [s.next], logits: "last" }));
    const logits = this.model.forward(inputs);
    batch.forEach((s, i) => this.accept(s, this.sampler.sample(logits[i], s.request.req, s.rng)));
  }

  /** Takes a sampled token: stop token, stop string, length limit, or keep going. */
  private accept(seq: LiveSequence, token: number): void {
    const r = seq.request;
    const isLive = seq.next !== -1;
    const leave = (): void => {
      if (isLive) this.live.splice(this.live.indexOf(seq), 1);
    };
    if (r.stopIds.has(token)) {
      leave();
      this.finish(seq, "stop", token);
      return;
    }
    seq.tokens.push(token);
    const before = seq.decoder.text.length;
    seq.decoder.push(token);
    const text = seq.decoder.text;
    seq.textEnds.push(text.length);
    if (r.maxStopLen > 0 && text.length > before) {
      const from = Math.max(0, before - r.maxStopLen + 1);
      let hit = -1;
      let which = "";
      for (const s of r.req.stop ?? []) {
        if (s.length === 0) continue;
        const at = text.indexOf(s, from);
        if (at !== -1 && (hit === -1 || at < hit)) {
          hit = at;
          which = s;
        }
      }
      if (hit !== -1) {
        leave();
        // Keep the tokens that contributed text before the stop string; drop those wholly inside it.
        let keep = 0;
        while (keep < seq.tokens.length && (keep === 0 ? 0 : seq.textEnds[keep - 1]) < hit) keep++;
        seq.tokens.length = keep;
        this.finish(seq, "stop", which, text.slice(0, hit));
        return;
      }
    }
    if (seq.tokens.length >= r.req.maxTokens || seq.cache.length + 1 >= this.maxContext) {
      leave();
      this.finish(seq, "length");
      return;
    }
    seq.next = token;
    if (!isLive) this.live.push(seq);
  }

  private finish(seq: LiveSequence, reason: "stop" | "length", stopReason?: string | number, text?: string): void {
    const r = seq.request;
    r.results[seq.index - (r.req.firstIndex ?? 0)] = {
      index: seq.index,
      text: text ?? seq.decoder.text,
      tokenIds: seq.tokens,
      finishReason: reason,
      ...(stopReason !== undefined ? { stopReason } : {}),
    };
    seq.cache.release();
    r.remaining--;
    if (r.remaining === 0) {
      r.promptCache?.release();
      r.resolve(r.results as GeneratedCompletion[]);
    }
  }
}

function validateRequest(req: GenerationRequest, vocabSize: number): void {
  if (!Number.isInteger(req.n) || req.n < 1) throw new RangeError(`n must be a positive integer, got ${req.n}`);
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < 0) throw new RangeError(`maxTokens must be a non-negative integer, got ${req.maxTokens}`);
  if (!(req.temperature >= 0)) throw new RangeError(`temperature must be ≥ 0, got ${req.temperature}`);
  if (!(req.topP > 0 && req.topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${req.topP}`);
  if (!Number.isInteger(req.topK) || req.topK < 0) throw new RangeError(`topK must be a non-negative integer, got ${req.topK}`);
  if (req.promptIds.length === 0) throw new RangeError("the prompt has no tokens");
  for (const id of req.promptIds) if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new RangeError(`prompt token id ${id} is outside the vocabulary`);
}
