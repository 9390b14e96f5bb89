/**
 * TensorFlow.js set-up shared by the model, the trainer and the engine. Importing this module registers the
 * wasm backend; `initTf()` selects a backend once per thread (each worker thread has its own tfjs instance).
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

export type TfBackendName = "wasm" | "cpu";

let ready: Promise<void> | null = null;
let selected: TfBackendName | null = null;

/**
 * Selects the tfjs backend ("wasm" by default: ≈30 GFLOP/s on batched matmuls here vs ≈1.3 for "cpu").
 * Calling it again with the same name is free; switching backends later is allowed (tests do it).
 */
export async function initTf(backend: TfBackendName = "wasm"): Promise<void> {
  if (selected === backend && ready !== null) return ready;
  selected = backend;
  ready = (async () => {
    // The cpu backend warns "install tfjs-node" on first use in Node; tfjs-node cannot be installed on these
    // machines, so the advice only confuses users. PROD mode silences tfjs warnings (errors still throw).
    tf.env().set("PROD", true);
    const ok = await tf.setBackend(backend);
    if (!ok) throw new Error(`tfjs backend "${backend}" failed to initialise`);
    await tf.ready();
  })();
  return ready;
}

export { tf };
