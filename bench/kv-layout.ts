/**
 * The attention kernel on KV caches laid out two ways, decoding-sized: many rows (sequences in flight), each
 * with its own cache, visited in turn the way one decode step visits them, so the caches stream from memory
 * rather than sit in L2. The arithmetic is the same in both layouts; only where each head's keys lie differs:
 *   interleaved  [position][head][headDim]  (one head reads 128 bytes of every 512-byte position)
 *   head-major   [head][position][headDim]  (one head's keys are contiguous; what KvCache stores)
 * Usage: node --import tsx bench/kv-layout.ts [--rows 64] [--positions 250] [--calls 20000] [--repeats 3]
 * Prints a markdown table: calls per second per layout and their ratio, each the median of the repeats.
 */
import { KernelArena } from "../src/model/kernels.js";
import { median } from "./timing.js";

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const rows = opt("--rows", 64);
const T = opt("--positions", 250);
const calls = opt("--calls", 20000);
const repeats = opt("--repeats", 3);
// The built-in model's attention: 4 heads of 32 (models/world-base/config.json).
const hd = 32;
const H = 4;

const arena = new KernelArena(hd, 64 << 20);
const floats = T * H * hd;
const keys: number[] = [];
const values: number[] = [];
for (let r = 0; r < rows; r++) {
  keys.push(arena.alloc(floats));
  values.push(arena.alloc(floats));
}
const q = arena.alloc(H * hd);
const out = arena.alloc(H * hd);
const scratch = arena.alloc(T + 8);
for (let i = 0; i < arena.f32.length; i++) arena.f32[i] = Math.sin(i) * 0.1;
const k = arena.kernels;
const B = 4; // bytes per float

const layouts = {
  interleaved: (r: number): void =>
    k.attendRow(q * B, 0, 0, 0, hd * B, keys[r] * B, values[r] * B, T, hd * B, H, 1, hd * B, H * hd * B, 0.17, scratch * B, out * B),
  "head-major": (r: number): void =>
    k.attendRow(q * B, 0, 0, 0, T * hd * B, keys[r] * B, values[r] * B, T, T * hd * B, H, 1, hd * B, hd * B, 0.17, scratch * B, out * B),
};

function rate(fn: (r: number) => void): number {
  const t = performance.now();
  for (let i = 0; i < calls; i++) fn(i % rows);
  return calls / ((performance.now() - t) / 1000);
}

const results: Record<string, number[]> = { interleaved: [], "head-major": [] };
for (const fn of Object.values(layouts)) rate(fn); // warm-up
for (let i = 0; i < repeats; i++) for (const [name, fn] of Object.entries(layouts)) results[name].push(rate(fn));
const inter = median(results.interleaved);
const major = median(results["head-major"]);
const gbps = (callsPerSecond: number): string => ((callsPerSecond * 2 * T * H * hd * B) / 1e9).toFixed(1);
console.log(`${rows} rows × ${T} positions, ${H} heads of ${hd}, ${calls} calls, median of ${repeats}\n`);
console.log("| layout | rows/s | GB/s of keys and values | ratio |");
console.log("|---|---:|---:|---:|");
console.log(`| interleaved | ${inter.toFixed(0)} | ${gbps(inter)} | 1.00× |`);
console.log(`| head-major | ${major.toFixed(0)} | ${gbps(major)} | ${(major / inter).toFixed(2)}× |`);
