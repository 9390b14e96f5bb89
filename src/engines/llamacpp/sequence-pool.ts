/**
 * The context's sequences, lent one at a time. A llama.cpp context holds a fixed number of sequences (each with
 * its own KV cache), so this many completions or scoring requests can be under way at once, taking turns to
 * decode (serial.ts). Work beyond the pool's size waits for a sequence to come back.
 */
import type { LlamaContext, LlamaContextSequence } from "node-llama-cpp";

export class SequencePool {
  private readonly free: LlamaContextSequence[] = [];
  private readonly waiting: Array<(s: LlamaContextSequence) => void> = [];

  constructor(context: LlamaContext) {
    while (context.sequencesLeft > 0) this.free.push(context.getSequence());
  }

  get size(): number {
    return this.free.length;
  }

  /** Runs `work` with a sequence of its own (cleared of any earlier tokens) and returns it afterwards. */
  async with<T>(work: (sequence: LlamaContextSequence) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const sequence = await this.acquire(signal);
    try {
      await sequence.clearHistory();
      return await work(sequence);
    } finally {
      this.release(sequence);
    }
  }

  private acquire(signal?: AbortSignal): Promise<LlamaContextSequence> {
    signal?.throwIfAborted();
    const s = this.free.pop();
    if (s !== undefined) return Promise.resolve(s);
    return new Promise((resolve, reject) => {
      const take = (seq: LlamaContextSequence): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve(seq);
      };
      const onAbort = (): void => {
        const at = this.waiting.indexOf(take);
        if (at !== -1) this.waiting.splice(at, 1);
        reject(signal?.reason ?? new Error("aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(take);
    });
  }

  private release(s: LlamaContextSequence): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(s);
    else this.free.push(s);
  }
}
