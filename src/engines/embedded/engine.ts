/**
 * The embedded engine: a Llama-family HF model folder run in-process on TensorFlow.js (see src/model/).
 *
 * ```ts
 * const engine = await EmbeddedEngine.load("test/fixtures/tiny-llama");         // worker threads by default
 * const { completions } = await engine.generate({ prompt: "Hi", n: 4, seed: 1, temperature: 0.9, topP: 1,
 *                                                  topK: 0, maxTokens: 64 });
 * await engine.close();
 * ```
 *
 * Work is spread over worker threads (default: one per core, each with its own tfjs wasm backend). Concurrent
 * generate() calls are batched together inside each worker (continuous batching), and a request's n
 * completions are split across workers; completion i always draws from Rng(deriveSeed(seed, i)) and its
 * computation never depends on the batch, so results are identical for any number of workers or batch mix.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type {
  ChatMessage,
  Completion,
  Engine,
  EngineCapabilities,
  GenerateRequest,
  GenerateResult,
  ModelIdentity,
  PromptInput,
  ScoreRequest,
  ScoreResult,
} from "../engine.js";
import { UserError } from "../../util/errors.js";
import { ChatTemplate } from "../../model/chat.js";
import { loadModelFolder, type ModelFolder } from "../../model/folder.js";
import type { GeneratedCompletion, GenerationRequest } from "../../model/generate.js";
import type { EncodedPrefix, ScoredTokens, ScoreOptions } from "../../model/score.js";
import { ModelTokenizer } from "../../model/tokenizer.js";
import type { TfBackendName } from "../../model/tf.js";
import { checkGenerateRequest } from "../check-request.js";
import { ModelRuntime, type RuntimeSource } from "./runtime.js";

export interface EmbeddedEngineOptions {
  /** Worker threads; 0 runs everything on the calling thread. Default: available cores (at most 8). */
  workers?: number;
  /** tfjs backend inside each thread (default "wasm"). */
  backend?: TfBackendName;
  /** Largest number of sequences one generation step advances per thread (default 256). */
  maxBatch?: number;
  /** Identity name (default: the folder path). */
  name?: string;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** Outstanding sequences (generation) or rows (scoring) on that worker, for load balancing. */
  load: number;
}

class WorkerHandle {
  readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  load = 0;

  /** Settles when the worker has built its model (or failed to). */
  readonly ready: Promise<void>;

  constructor(source: RuntimeSource, options: { backend?: TfBackendName; maxBatch?: number }) {
    const entry = workerEntry();
    this.worker = entry.eval ? new Worker(entry.code, { eval: true }) : new Worker(entry.file);
    let settle: { resolve: () => void; reject: (e: unknown) => void } | null = null;
    this.ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // A worker that fails after start-up rejects `ready` a second time, which is harmless; never leave it unhandled.
    this.ready.catch(() => undefined);
    this.worker.on("message", (msg: { type: string; id?: number; message?: string; result?: unknown }) => {
      if (msg.type === "ready") settle?.resolve();
      else if (msg.type === "initError") settle?.reject(new Error(`embedded engine worker failed to start: ${msg.message}`));
      else {
        const p = this.pending.get(msg.id as number);
        if (p === undefined) return;
        this.pending.delete(msg.id as number);
        this.load -= p.load;
        if (msg.type === "done") p.resolve(msg.result);
        else p.reject(new Error(msg.message));
      }
    });
    const failAll = (err: Error): void => {
      settle?.reject(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on("error", (err) => failAll(err));
    this.worker.on("exit", (code) => {
      if (this.pending.size > 0) failAll(new Error(`embedded engine worker exited (code ${code})`));
    });
    this.worker.postMessage({ type: "init", source, options });
  }

  call<T>(message: Record<string, unknown>, load: number): Promise<T> {
    const id = this.nextId++;
    this.load += load;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, load });
      this.worker.postMessage({ ...message, id });
    });
  }
}

/**
 * The worker entry: the compiled worker.js next to this file, or (running from source: tests, `npm run dev`)
 * worker.ts loaded through tsx's loader, registered inside the worker (Node 20 workers ignore --import).
 */
function workerEntry(): { eval: false; file: URL } | { eval: true; code: string } {
  const js = new URL("./worker.js", import.meta.url);
  if (existsSync(fileURLToPath(js))) return { eval: false, file: js };
  const ts = new URL("./worker.ts", import.meta.url).href;
  // Resolve tsx from this file, not from the worker's working directory (which may be anywhere).
  const tsxDir = dirname(createRequire(import.meta.url).resolve("tsx/package.json"));
  const tsxApi = pathToFileURL(join(tsxDir, "dist", "esm", "api", "index.mjs")).href;
  return {
    eval: true,
    code: `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(ts)}); }).catch((e) => { throw e; });`,
  };
}

export class EmbeddedEngine implements Engine {
  readonly identity: ModelIdentity;
  readonly folder: Pick<ModelFolder, "config" | "eosTokenIds" | "chatTemplate">;
  readonly tokenizer: ModelTokenizer;
  private readonly chat: ChatTemplate | null;
  private readonly workers: WorkerHandle[];
  private readonly local: ModelRuntime | null;
  private closed = false;

  private constructor(source: RuntimeSource, chatTemplate: string | null, identity: ModelIdentity, workers: WorkerHandle[], local: ModelRuntime | null) {
    this.identity = identity;
    this.folder = { config: source.config, eosTokenIds: source.eosTokenIds, chatTemplate };
    this.tokenizer = new ModelTokenizer(source.tokenizer);
    this.chat = chatTemplate === null ? null : new ChatTemplate(chatTemplate, source.tokenizer.tokenizerConfig);
    this.workers = workers;
    this.local = local;
  }

  /** Loads an HF model folder (errors name the file and field). */
  static async load(dir: string, opts: EmbeddedEngineOptions = {}): Promise<EmbeddedEngine> {
    const folder = loadModelFolder(dir);
    return EmbeddedEngine.fromModel(
      { config: folder.config, weights: folder.weights, tokenizer: folder.tokenizer.files, eosTokenIds: folder.eosTokenIds },
      folder.chatTemplate,
      { name: opts.name ?? dir, sha256: folder.weightsSha256, engine: "embedded" },
      opts,
    );
  }

  /** Same as `load` (the name src/engines/factory.ts uses). */
  static async open(dir: string, opts: EmbeddedEngineOptions = {}): Promise<EmbeddedEngine> {
    return EmbeddedEngine.load(dir, opts);
  }

  /** An engine over in-memory weights (e.g. a model being trained), without a folder on disk. */
  static async fromModel(source: RuntimeSource, chatTemplate: string | null, identity: ModelIdentity, opts: EmbeddedEngineOptions = {}): Promise<EmbeddedEngine> {
    const count = opts.workers ?? Math.min(8, availableParallelism());
    const runtimeOpts = { backend: opts.backend, maxBatch: opts.maxBatch };
    if (count === 0) {
      const local = await ModelRuntime.create(source, runtimeOpts);
      return new EmbeddedEngine(source, chatTemplate, identity, [], local);
    }
    const handles = Array.from({ length: count }, () => new WorkerHandle(source, runtimeOpts));
    try {
      await Promise.all(handles.map((h) => h.ready));
    } catch (err) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw err;
    }
    return new EmbeddedEngine(source, chatTemplate, identity, handles, null);
  }

  async capabilities(): Promise<EngineCapabilities> {
    return {
      fullDistributions: true,
      promptLogprobs: true,
      maxTopK: this.folder.config.vocabSize,
      prefixReuse: true,
      maxContextTokens: this.folder.config.maxPositionEmbeddings,
      chatTemplate: this.chat !== null,
    };
  }

  async tokenize(text: string, opts: { addSpecialTokens?: boolean } = {}): Promise<number[]> {
    return this.tokenizer.encode(text, { addSpecialTokens: opts.addSpecialTokens ?? true });
  }

  async detokenize(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): Promise<string> {
    return this.tokenizer.decode(ids, { skipSpecialTokens: opts.skipSpecialTokens ?? true });
  }

  async applyChatTemplate(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): Promise<string> {
    if (this.chat === null) throw new UserError(`model ${this.identity.name} has no chat_template in tokenizer_config.json`);
    return this.chat.render(messages, opts);
  }

  private promptIds(p: PromptInput, what: string): number[] {
    const ids = typeof p === "string" ? this.tokenizer.encode(p, { addSpecialTokens: true }) : p.slice();
    const V = this.folder.config.vocabSize;
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= V) throw new UserError(`${what}: token id ${id} is outside the vocabulary (0…${V - 1})`);
    return ids;
  }

  async generate(request: GenerateRequest, opts: { signal?: AbortSignal } = {}): Promise<GenerateResult> {
    this.assertOpen();
    opts.signal?.throwIfAborted();
    const promptIds = this.promptIds(request.prompt, "prompt");
    if (promptIds.length === 0) throw new UserError("generate: the prompt has no tokens");
    checkGenerateRequest(request);
    const base: Omit<GenerationRequest, "n" | "firstIndex"> = {
      promptIds,
      seed: request.seed,
      temperature: request.temperature,
      topP: request.topP,
      topK: request.topK,
      maxTokens: request.maxTokens,
      stop: request.stop ? [...request.stop] : undefined,
      stopTokenIds: request.stopTokenIds ? [...request.stopTokenIds] : undefined,
    };
    let completions: GeneratedCompletion[];
    if (this.local !== null) {
      completions = await this.local.generate({ ...base, n: request.n, firstIndex: 0 });
    } else {
      // Split the n completions into contiguous index ranges, one per worker (least loaded first).
      const parts = Math.min(this.workers.length, request.n);
      const order = [...this.workers].sort((a, b) => a.load - b.load);
      const jobs: Array<Promise<GeneratedCompletion[]>> = [];
      let first = 0;
      for (let p = 0; p < parts; p++) {
        const n = Math.floor(request.n / parts) + (p < request.n % parts ? 1 : 0);
        jobs.push(order[p].call<GeneratedCompletion[]>({ type: "generate", request: { ...base, n, firstIndex: first } }, n * (request.maxTokens + 1)));
        first += n;
      }
      completions = (await withAbort(Promise.all(jobs), opts.signal)).flat();
    }
    const out: Completion[] = completions.map((c) => ({ ...c }));
    return { completions: out, promptTokens: promptIds.length };
  }

  async score(request: ScoreRequest, opts: { signal?: AbortSignal } = {}): Promise<ScoreResult> {
    this.assertOpen();
    opts.signal?.throwIfAborted();
    const prefix = this.promptIds(request.prefix, "prefix");
    if (prefix.length === 0) throw new UserError("score: the prefix has no tokens (the first continuation token needs context)");
    const conts = request.continuations.map((c, i) => this.promptIds(c, `continuation ${i}`));
    if (request.distributions === "topk" && !(Number.isInteger(request.topK) && (request.topK as number) > 0)) {
      throw new UserError("score: distributions 'topk' needs a positive topK");
    }
    if (request.window !== undefined && !(Number.isInteger(request.window) && request.window >= 0)) throw new UserError(`score: window must be a non-negative integer, got ${request.window}`);
    const options: ScoreOptions = { window: request.window, distributions: request.distributions, topK: request.topK };
    let scored: ScoredTokens[];
    if (this.local !== null) {
      scored = this.local.score(prefix, conts, options);
    } else {
      // Continuations split across workers in contiguous groups balanced by token count. With more than one
      // busy worker, one of them encodes the prefix and every worker starts from that encoding (exactly what
      // it would have computed itself), so the prefix is encoded once, not once per worker.
      const groups = splitByTokens(conts, this.workers.length, request.window).filter((g) => g.items.length > 0);
      const order = [...this.workers].sort((a, b) => a.load - b.load);
      const encoded = groups.length > 1 ? await withAbort(order[0].call<EncodedPrefix>({ type: "encodePrefix", prefix }, prefix.length), opts.signal) : undefined;
      const jobs = groups.map((g, k) => order[k].call<ScoredTokens[]>({ type: "score", prefix, continuations: g.items, options, encoded }, g.tokens));
      scored = (await withAbort(Promise.all(jobs), opts.signal)).flat();
    }
    return {
      prefixTokens: prefix.length,
      continuations: scored.map((s) => ({
        tokenIds: s.tokenIds,
        logprobs: s.logprobs,
        ...(s.topLogprobs ? { topLogprobs: s.topLogprobs } : {}),
        ...(s.fullLogprobs ? { fullLogprobs: s.fullLogprobs } : {}),
      })),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.local?.dispose();
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("EmbeddedEngine is closed");
  }
}

function splitByTokens(conts: number[][], parts: number, window: number | undefined): Array<{ items: number[][]; tokens: number }> {
  const len = (c: number[]): number => (window === undefined ? c.length : Math.min(window, c.length));
  const total = conts.reduce((a, c) => a + len(c), 0);
  const groups: Array<{ items: number[][]; tokens: number }> = [];
  let i = 0;
  for (let p = 0; p < parts; p++) {
    const target = (total * (p + 1)) / parts;
    const g = { items: [] as number[][], tokens: 0 };
    let done = groups.reduce((a, x) => a + x.tokens, 0);
    while (i < conts.length && (p === parts - 1 || done + len(conts[i]) / 2 <= target)) {
      g.items.push(conts[i]);
      g.tokens += len(conts[i]);
      done += len(conts[i]);
      i++;
    }
    groups.push(g);
  }
  return groups;
}

async function withAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason ?? new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
