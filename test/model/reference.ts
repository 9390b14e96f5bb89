/** Helpers for the embedded model's tests: the tiny fixture and the Python reference scripts. */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, requireVenvPython } from "../helpers.js";

export const tinyLlamaDir = join(repoRoot, "test", "fixtures", "tiny-llama");

/**
 * Runs test/reference/<script> with the project's venv; a failure shows Python's stderr. Asynchronous, so the
 * test worker's event loop stays free while Python works.
 */
export function runReference(script: string, args: string[]): Promise<void> {
  const python = requireVenvPython();
  return new Promise((resolve, reject) => {
    execFile(python, [join(repoRoot, "test", "reference", script), ...args], { encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${script} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

export function readF32(file: string): Float32Array {
  const buf = readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
