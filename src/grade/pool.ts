/**
 * A pool of worker threads for grading thousands of samples. Each grading call is already bounded by its own
 * budget; the pool adds a second, external guarantee: a worker that makes no progress for the time bound plus a
 * grace period is terminated (its current item is marked timed out) and replaced, so even a bug cannot block a
 * stage. Results come back in input order.
 */
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { DEFAULT_TIMEOUT_MS } from "./compare.js";
import { gradeMany, type GradeItem, type GradeOptions, type GradeResult } from "./grade.js";
import type { WorkerJob, WorkerReply } from "./worker.js";

export interface PoolOptions extends GradeOptions {
  /** Worker threads (default: available cores − 1, at least 1, at most 8). */
  workers?: number;
  /** Extra time beyond timeoutMs before a silent worker is killed (default 2000 ms). */
  graceMs?: number;
  /** Items sent to a worker at a time (default 64). */
  chunk?: number;
}

interface Slot {
  worker: Worker;
  queue: number[];
  lastProgress: number;
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism() - 1));
}

/**
 * Starts a worker: the compiled worker.js, or — when running from TypeScript sources (tsx, vitest) — a small
 * bootstrap that registers tsx's loader inside the worker before importing worker.ts (a worker's entry file is
 * loaded before any --import hook would apply).
 */
function startWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    const require = createRequire(here);
    const tsxRoot = dirname(require.resolve("tsx/package.json"));
    const api = pathToFileURL(join(tsxRoot, "dist", "esm", "api", "index.mjs")).href;
    const file = new URL("./worker.ts", here).href;
    const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(file)}); });`;
    return new Worker(boot, { eval: true });
  }
  return new Worker(fileURLToPath(new URL("./worker.js", here)));
}

export class GraderPool {
  private readonly slots: Slot[] = [];
  private readonly opts: PoolOptions;
  private closed = false;
  /** Set when workers cannot start here; the pool then grades in the calling thread. */
  private broken = false;

  constructor(opts: PoolOptions = {}) {
    this.opts = opts;
    const n = Math.max(1, opts.workers ?? defaultWorkers());
    for (let k = 0; k < n; k++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = startWorker();
    // Idle workers must not keep the process alive; busy ones are ref-ed in grade().
    worker.unref();
    return { worker, queue: [], lastProgress: performance.now() };
  }

  /** Grades all items; results in input order. */
  async grade(items: readonly GradeItem[]): Promise<GradeResult[]> {
    if (this.closed) throw new Error("GraderPool is closed");
    const results = new Array<GradeResult | undefined>(items.length);
    if (items.length === 0) return [];
    if (this.broken) return gradeMany(items, this.gradeOptions());
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const grace = this.opts.graceMs ?? 2000;
    const chunk = Math.max(1, this.opts.chunk ?? 64);
    const gradeOpts = this.gradeOptions();
    let nextToSend = 0;
    let done = 0;
    // Workers that die before doing anything (e.g. no TypeScript loader): after a few, grade here instead.
    let deadOnArrival = 0;

    return await new Promise<GradeResult[]>((resolve, reject) => {
      const listeners = new Map<Slot, { msg: (m: WorkerReply) => void; err: (e: Error) => void }>();

      const feed = (slot: Slot): void => {
        if (slot.queue.length > 0 || nextToSend >= items.length) return;
        slot.worker.ref();
        const batch: WorkerJob["items"] = [];
        while (batch.length < chunk && nextToSend < items.length) {
          batch.push({ idx: nextToSend, item: items[nextToSend]! });
          slot.queue.push(nextToSend);
          nextToSend++;
        }
        slot.lastProgress = performance.now();
        slot.worker.postMessage({ items: batch, opts: gradeOpts } satisfies WorkerJob);
      };

      const finish = (idx: number, r: GradeResult): void => {
        if (results[idx] !== undefined) return;
        results[idx] = r;
        done++;
        if (done === items.length) {
          clearInterval(watchdog);
          for (const [slot, l] of listeners) {
            slot.worker.off("message", l.msg);
            slot.worker.off("error", l.err);
            slot.worker.unref();
          }
          resolve(results as GradeResult[]);
        }
      };

      const attach = (slot: Slot): void => {
        const msg = (m: WorkerReply): void => {
          deadOnArrival = 0;
          slot.lastProgress = performance.now();
          const pos = slot.queue.indexOf(m.idx);
          if (pos >= 0) slot.queue.splice(pos, 1);
          finish(m.idx, m.result);
          feed(slot);
        };
        const err = (e: Error): void => replace(slot, `worker error: ${e.message}`);
        slot.worker.on("message", msg);
        slot.worker.on("error", err);
        listeners.set(slot, { msg, err });
      };

      /** Kills a stuck or crashed worker: its current item fails, the rest of its queue is sent again. */
      const replace = (slot: Slot, why: string): void => {
        const k = this.slots.indexOf(slot);
        if (k < 0) return;
        const l = listeners.get(slot);
        if (l) {
          slot.worker.off("message", l.msg);
          slot.worker.off("error", l.err);
          listeners.delete(slot);
        }
        void slot.worker.terminate();
        if (why.startsWith("worker error") && ++deadOnArrival >= 3) {
          // The pool cannot run here: finish everything in this thread (each call is still budgeted).
          this.broken = true;
          clearInterval(watchdog);
          for (const s2 of this.slots) void s2.worker.terminate();
          for (let idx = 0; idx < items.length; idx++) {
            if (results[idx] === undefined) finish(idx, gradeMany([items[idx]!], gradeOpts)[0]!);
          }
          return;
        }
        const [current, ...rest] = slot.queue;
        if (current !== undefined) finish(current, { extracted: null, equal: false, reason: why, timedOut: true });
        const fresh = this.spawn();
        this.slots[k] = fresh;
        attach(fresh);
        // Re-send the unfinished items of the dead worker before anything new.
        if (rest.length > 0) {
          fresh.queue.push(...rest);
          fresh.lastProgress = performance.now();
          fresh.worker.postMessage({ items: rest.map((idx) => ({ idx, item: items[idx]! })), opts: gradeOpts } satisfies WorkerJob);
        } else feed(fresh);
      };

      const watchdog = setInterval(() => {
        const now = performance.now();
        for (const slot of [...this.slots]) {
          if (slot.queue.length > 0 && now - slot.lastProgress > timeoutMs + grace) replace(slot, "killed: no progress within the time bound");
        }
      }, Math.min(250, Math.max(20, (timeoutMs + grace) / 4)));

      try {
        for (const slot of this.slots) {
          attach(slot);
          feed(slot);
        }
      } catch (e) {
        clearInterval(watchdog);
        reject(e);
      }
    });
  }

  private gradeOptions(): GradeOptions {
    const { workers: _w, graceMs: _g, chunk: _c, ...gradeOpts } = this.opts;
    return gradeOpts;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/**
 * Grades a batch, results in input order. In this thread by default: one call takes tens of microseconds, and
 * on the development machine a pool was slower (see docs/BENCHMARKS.md). With `workers` > 1 and a large batch
 * it runs in a GraderPool (e.g. `workers: defaultWorkers()` on a many-core machine).
 */
export async function gradeBatch(items: readonly GradeItem[], opts: PoolOptions = {}): Promise<GradeResult[]> {
  const workers = opts.workers ?? 1;
  if (workers <= 1 || items.length < 256) return gradeMany(items, opts);
  const pool = new GraderPool({ ...opts, workers });
  try {
    return await pool.grade(items);
  } finally {
    await pool.close();
  }
}
