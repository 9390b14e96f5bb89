/**
 * Runs llama.cpp evaluations one at a time.
 *
 * node-llama-cpp 3.21.1 decodes the pending tokens of all sequences of a context in one batch and then samples
 * each sequence on its own libuv thread. Measured here (world-base F32 GGUF, 25 sequences greedy-decoding the same
 * prompt at once): up to 25 different completions, changing from run to run; with UV_THREADPOOL_SIZE=1 (so no two
 * samplers run at once) all 25 equal the completion decoded alone, and so do they one sequence at a time. A likely
 * cause: llama.cpp can return a batch's outputs in another order than they were added (one KV stream per
 * sequence) and restores the order in place on the first read of the logits, which two threads then do at once.
 * So each decode (a generated token, a prompt, a scored continuation) holds this lock: one sequence's batch at a
 * time, which gives up llama.cpp's batching across sequences (docs/BENCHMARKS.md) for correct results.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
