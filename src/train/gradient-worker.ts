/**
 * A gradient worker thread (see ./parallel.ts): its own tfjs wasm backend and model replica. Messages:
 *   in  {type:"init", replica:{module,args}, sizes, weightBuffer, gradBuffer}   out {type:"ready"} | {type:"initError"}
 *   in  {type:"step", micro, totalWeight}   out {type:"grads", lossSum, metricSums, tokens} | {type:"fail"}
 * Before each step the replica's weights are read from weightBuffer; gradients are written to gradBuffer.
 */
import * as tf from "@tensorflow/tfjs";
import { parentPort } from "node:worker_threads";
import { initTf } from "../model/tf.js";
import { accumulateGradients } from "./gradients.js";
import type { Replica, ReplicaFactory, ReplicaSpec } from "./parallel.js";

type Incoming =
  | { type: "init"; replica: ReplicaSpec; sizes: number[]; weightBuffer: SharedArrayBuffer; gradBuffer: SharedArrayBuffer }
  | { type: "step"; micro: unknown[][]; totalWeight: number };

if (parentPort === null) throw new Error("gradient-worker must run as a worker thread");
const port = parentPort;
let replica: Replica<unknown> | null = null;
let weightViews: Float32Array[] = [];
let gradViews: Float32Array[] = [];

function views(buf: SharedArrayBuffer, sizes: number[]): Float32Array[] {
  let off = 0;
  return sizes.map((n) => {
    const v = new Float32Array(buf, off * 4, n);
    off += n;
    return v;
  });
}

port.on("message", (msg: Incoming) => {
  if (msg.type === "init") {
    (async () => {
      await initTf("wasm");
      const mod = (await import(msg.replica.module)) as { createReplica: ReplicaFactory<unknown, unknown> };
      replica = await mod.createReplica(msg.replica.args);
      const sizes = replica.params.map((p) => p.variable.size);
      if (sizes.length !== msg.sizes.length || sizes.some((n, i) => n !== msg.sizes[i])) {
        throw new Error("the replica's parameters do not match the trainer's (count or sizes differ)");
      }
      weightViews = views(msg.weightBuffer, sizes);
      gradViews = views(msg.gradBuffer, sizes);
    })().then(
      () => port.postMessage({ type: "ready" }),
      (err: unknown) => port.postMessage({ type: "initError", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
    return;
  }
  try {
    if (replica === null) throw new Error("worker not initialised");
    const params = replica.params;
    params.forEach((p, i) => tf.tidy(() => p.variable.assign(tf.tensor(weightViews[i], p.variable.shape, "float32"))));
    const result = accumulateGradients(params, replica.objective, msg.micro, msg.totalWeight);
    result.grads.forEach((g, i) => gradViews[i].set(g));
    port.postMessage({ type: "grads", lossSum: result.lossSum, metricSums: result.metricSums, tokens: result.tokens });
  } catch (err) {
    port.postMessage({ type: "fail", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
