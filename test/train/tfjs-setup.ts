/** Tests run the trainer on the backend users get: tfjs wasm (SIMD, one thread). */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

export async function useWasmBackend(): Promise<void> {
  if (tf.getBackend() !== "wasm") {
    await tf.setBackend("wasm");
    await tf.ready();
  }
}
