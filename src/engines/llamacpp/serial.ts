/**
 * Runs llama.cpp evaluations one at a time.
 *
 * node-llama-cpp 3.21.1 decodes the pending tokens of all sequences of a context in one batch and then samples
 * each sequence on its own libuv thread. llama.cpp may return a batch's outputs in another order than they were
 * added (non-unified KV cache, one stream per sequence) and puts them back in order in place, lazily, on the first
 * read of the logits; two samplers reading at once race on that, and completions then read another sequence's
 * logits. Measured here: 25 sequences greedy-decoding the same prompt at once gave up to 25 different
 * completions, changing from run to run; one sequence at a time, every completion equals the one decoded alone.
 * So each decode (a generated token, a prompt, a scored continuation) holds this lock: one sequence's batch at a
 * time, which costs llama.cpp's batching across sequences (docs/BENCHMARKS.md) but makes results exact.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
