/**
 * Worker thread of the embedded engine: its own tfjs wasm backend and model runtime. Messages:
 *   in  {type:"init", source, options}            out {type:"ready"} | {type:"initError", message}
 *   in  {type:"generate", id, request}            out {type:"done", id, result} | {type:"fail", id, message}
 *   in  {type:"score", id, prefix, continuations, options, encoded?}   (same replies; Float32Arrays are transferred)
 *   in  {type:"encodePrefix", id, prefix}         out {type:"done", id, result: EncodedPrefix} (shared by all workers)
 */
import { parentPort } from "node:worker_threads";
import type { GenerationRequest } from "../../model/generate.js";
import type { EncodedPrefix, ScoreOptions } from "../../model/score.js";
import { ModelRuntime, type RuntimeOptions, type RuntimeSource } from "./runtime.js";

type Incoming =
  | { type: "init"; source: RuntimeSource; options: RuntimeOptions }
  | { type: "generate"; id: number; request: GenerationRequest }
  | { type: "score"; id: number; prefix: number[]; continuations: number[][]; options: ScoreOptions; encoded?: EncodedPrefix }
  | { type: "encodePrefix"; id: number; prefix: number[] };

if (parentPort === null) throw new Error("worker.ts must run as a worker thread");
const port = parentPort;
let runtime: ModelRuntime | null = null;

port.on("message", (msg: Incoming) => {
  if (msg.type === "init") {
    ModelRuntime.create(msg.source, msg.options).then(
      (rt) => {
        runtime = rt;
        port.postMessage({ type: "ready" });
      },
      (err: unknown) => port.postMessage({ type: "initError", message: errorText(err) }),
    );
    return;
  }
  if (runtime === null) {
    port.postMessage({ type: "fail", id: msg.id, message: "worker not initialised" });
    return;
  }
  if (msg.type === "generate") {
    runtime.generate(msg.request).then(
      (result) => port.postMessage({ type: "done", id: msg.id, result }),
      (err: unknown) => port.postMessage({ type: "fail", id: msg.id, message: errorText(err) }),
    );
  } else if (msg.type === "encodePrefix") {
    try {
      const result = runtime.encodePrefix(msg.prefix);
      port.postMessage({ type: "done", id: msg.id, result }, [result.kv.buffer as ArrayBuffer, result.lastLogp.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ type: "fail", id: msg.id, message: errorText(err) });
    }
  } else {
    try {
      const result = runtime.score(msg.prefix, msg.continuations, msg.options, msg.encoded);
      // Distributions of one continuation share a buffer: list each buffer once.
      const transfer = new Set<ArrayBuffer>();
      for (const r of result) for (const f of r.fullLogprobs ?? []) transfer.add(f.buffer as ArrayBuffer);
      port.postMessage({ type: "done", id: msg.id, result }, [...transfer]);
    } catch (err) {
      port.postMessage({ type: "fail", id: msg.id, message: errorText(err) });
    }
  }
});

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
