/**
 * Data-parallel gradients over worker threads. tfjs-wasm runs one thread per backend instance, so a second core
 * only helps if a second backend does half the work: this thread computes one shard of the step's examples and
 * each worker thread (its own wasm backend and model replica) computes another, concurrently. Gradients come back
 * through SharedArrayBuffers and are summed in shard order, so a run is reproducible for a given number of threads;
 * weights go out the same way after every update.
 *
 * A replica is built inside the worker by a module exporting `createReplica(args)` (see ReplicaFactory): SFT uses
 * ./sft-replica.ts; stage 3 supplies its own module building the DPO-L + SFT objective over the same model.
 */
import * as tf from "@tensorflow/tfjs";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { NamedParameter } from "./adamw.js";
import { computeLocalGradients, LocalGradientSource, type GradientResult, type GradientSource } from "./gradients.js";
import type { Objective } from "./objective.js";

/** What a replica module's `createReplica(args)` returns, inside the worker thread. */
export interface Replica<E> {
  params: NamedParameter[];
  objective: Objective<E>;
}

export type ReplicaFactory<E, A> = (args: A) => Promise<Replica<E>>;

export interface ReplicaSpec {
  /** URL (file://…) of a module exporting `createReplica`. */
  module: string;
  /** Structured-clonable arguments for it (e.g. the model config and initial weights). */
  args: unknown;
}

export interface ParallelOptions<E> {
  /** This thread's parameters and objective (they compute shard 0 and receive the optimizer's updates). */
  params: readonly NamedParameter[];
  objective: Objective<E>;
  replica: ReplicaSpec;
  /** Total threads computing gradients, this one included (2 on a 2-core machine). */
  threads: number;
}

interface StepReply {
  type: "grads";
  lossSum: number;
  metricSums: Record<string, number>;
  tokens: number;
}

/** Splits the step's examples into `parts` contiguous shards of about equal tokens, each cut into micro-batches of ≤ batchSize. */
export function shardStep<E>(microBatches: ReadonlyArray<readonly E[]>, parts: number, tokensOf: (e: E) => number): E[][][] {
  const all = microBatches.flat();
  const batchSize = Math.max(1, ...microBatches.map((m) => m.length));
  const total = all.reduce((n, e) => n + tokensOf(e), 0);
  const shards: E[][] = [];
  let i = 0;
  let done = 0;
  for (let p = 0; p < parts; p++) {
    const target = (total * (p + 1)) / parts;
    const shard: E[] = [];
    while (i < all.length && (p === parts - 1 || done + tokensOf(all[i]) / 2 <= target)) {
      done += tokensOf(all[i]);
      shard.push(all[i++]);
    }
    shards.push(shard);
  }
  return shards.map((s) => {
    const out: E[][] = [];
    for (let k = 0; k < s.length; k += batchSize) out.push(s.slice(k, k + batchSize));
    return out;
  });
}

function workerEntry(): { file: URL; eval: false } | { code: string; eval: true } {
  const js = new URL("./gradient-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(js))) return { file: js, eval: false };
  // Running from source (tests, `npm run dev`): Node 20 workers ignore --import, so register tsx inside.
  const ts = new URL("./gradient-worker.ts", import.meta.url).href;
  return { code: `import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(ts)}); });`, eval: true };
}

/** Resolves a sibling module's URL whether running compiled (.js) or from source (.ts). */
export function siblingModule(base: string, name: string): string {
  const js = new URL(`./${name}.js`, base);
  return existsSync(fileURLToPath(js)) ? js.href : new URL(`./${name}.ts`, base).href;
}

class GradientWorker {
  readonly worker: Worker;
  private pending: { resolve: (r: StepReply) => void; reject: (e: unknown) => void } | null = null;
  private failure: Error | null = null;

  constructor(init: Record<string, unknown>, ready: { resolve: () => void; reject: (e: unknown) => void }) {
    const entry = workerEntry();
    this.worker = entry.eval ? new Worker(entry.code, { eval: true }) : new Worker(entry.file);
    this.worker.on("message", (msg: { type: "ready" | "initError" | "fail"; message?: string } | StepReply) => {
      if (msg.type === "ready") ready.resolve();
      else if (msg.type === "initError") ready.reject(new Error(`gradient worker failed to start: ${(msg as { message?: string }).message}`));
      else if (msg.type === "fail") this.settle(new Error(`gradient worker: ${(msg as { message?: string }).message}`));
      else if (msg.type === "grads") {
        const p = this.pending;
        this.pending = null;
        p?.resolve(msg as StepReply);
      }
    });
    this.worker.on("error", (err) => {
      ready.reject(err);
      this.settle(err);
    });
    this.worker.on("exit", (code) => this.settle(new Error(`gradient worker exited (code ${code})`)));
    this.worker.postMessage(init);
  }

  private settle(err: Error): void {
    this.failure ??= err;
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
  }

  step(micro: unknown[][], totalWeight: number): Promise<StepReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage({ type: "step", micro, totalWeight });
    });
  }
}

export class ParallelGradientSource<E> implements GradientSource<E> {
  private constructor(
    private readonly params: readonly NamedParameter[],
    private readonly objective: Objective<E>,
    private readonly workers: GradientWorker[],
    /** Current weights, written here after every update and read by the workers before each step. */
    private readonly weightViews: Float32Array[],
    /** One gradient buffer per worker, laid out like the weights. */
    private readonly gradViews: Float32Array[][],
  ) {}

  static async create<E>(opts: ParallelOptions<E>): Promise<ParallelGradientSource<E>> {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new Error(`threads must be a positive integer, got ${opts.threads}`);
    const sizes = opts.params.map((p) => p.variable.size);
    const total = sizes.reduce((a, b) => a + b, 0);
    const layout = (buf: SharedArrayBuffer): Float32Array[] => {
      let off = 0;
      return sizes.map((n) => {
        const v = new Float32Array(buf, off * 4, n);
        off += n;
        return v;
      });
    };
    const weightBuffer = new SharedArrayBuffer(total * 4);
    const gradBuffers = Array.from({ length: opts.threads - 1 }, () => new SharedArrayBuffer(total * 4));
    const workers: GradientWorker[] = [];
    const readies: Array<Promise<void>> = [];
    for (const gradBuffer of gradBuffers) {
      let ready!: { resolve: () => void; reject: (e: unknown) => void };
      readies.push(new Promise<void>((resolve, reject) => (ready = { resolve, reject })));
      workers.push(new GradientWorker({ type: "init", replica: opts.replica, sizes, weightBuffer, gradBuffer }, ready));
    }
    try {
      await Promise.all(readies);
    } catch (err) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw err;
    }
    return new ParallelGradientSource(opts.params, opts.objective, workers, layout(weightBuffer), gradBuffers.map(layout));
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  async compute(microBatches: ReadonlyArray<readonly E[]>, totalWeight: number): Promise<GradientResult> {
    // Publish the current weights (the optimizer updated this thread's variables after the previous step).
    this.params.forEach((p, i) => this.weightViews[i].set(p.variable.dataSync() as Float32Array));
    const shards = shardStep(microBatches, this.threads, (e) => this.objective.tokens([e]));
    const replies = this.workers.map((w, k) => (shards[k + 1].length > 0 ? w.step(shards[k + 1], totalWeight) : null));
    // Handle the workers' replies before anything here can throw: an unhandled rejection ends the process (the
    // tfjs wasm module rethrows them).
    const settling = Promise.allSettled(replies.map((r) => r ?? Promise.resolve(null)));
    let own: GradientResult;
    try {
      own = computeLocalGradients(this.params, this.objective, shards[0], totalWeight);
    } catch (err) {
      await settling;
      throw err;
    }
    const settled = await settling;
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) {
      for (const g of own.grads.values()) g.dispose();
      throw (failed as PromiseRejectedResult).reason;
    }
    const grads = own.grads;
    let { lossSum, tokens } = own;
    const metricSums = { ...own.metricSums };
    settled.forEach((s, k) => {
      const reply = (s as PromiseFulfilledResult<StepReply | null>).value;
      if (reply === null) return;
      lossSum += reply.lossSum;
      tokens += reply.tokens;
      for (const [key, v] of Object.entries(reply.metricSums)) metricSums[key] = (metricSums[key] ?? 0) + v;
      this.params.forEach((p, i) => {
        const incoming = tf.tensor(this.gradViews[k][i], p.variable.shape, "float32");
        const prev = grads.get(p.name);
        if (prev === undefined) grads.set(p.name, incoming);
        else {
          grads.set(p.name, tf.add(prev, incoming));
          prev.dispose();
          incoming.dispose();
        }
      });
    });
    return { grads, lossSum, metricSums, tokens };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}

/**
 * The gradient source for any objective and thread count: this thread alone for one thread (the trainer's
 * default), data-parallel worker threads running `replica` otherwise. The one place that choice is made.
 */
export async function gradientSourceFor<E>(opts: ParallelOptions<E>): Promise<GradientSource<E> & { close(): Promise<void> }> {
  return opts.threads <= 1 ? new LocalGradientSource(opts.params, opts.objective) : ParallelGradientSource.create(opts);
}
