/**
 * Hand-written WebAssembly SIMD kernels for decode-time attention, and the memory arena that holds the KV
 * caches they read. Attention over a cache is ~60% of decoding a ~1M-parameter model in plain JavaScript
 * (scalar float64 loops); the same loops in wasm f32x4 run several times faster. Matrix products stay on
 * tfjs (XNNPACK); these kernels only cover what tfjs cannot batch: every row attending to its own cache.
 *
 * The module is assembled here byte by byte (no toolchain at run time) from this WAT-equivalent:
 *
 *   (func $scores (param $q i32) (param $k i32) (param $n i32) (param $hdBytes i32) (param $strideBytes i32)
 *                 (param $scale f32) (param $out i32)
 *     ;; out[t] = scale · Σ_j q[j]·k[t·stride + j]   for t < n (4 lanes accumulated, then (l0+l1)+(l2+l3))
 *   (func $accum  (param $p i32) (param $v i32) (param $n i32) (param $hdBytes i32) (param $strideBytes i32)
 *                 (param $out i32)
 *     ;; out[j] += Σ_t p[t] · v[t·stride + j]      for j < hd (each 4-lane chunk summed over t in order)
 *
 * All addresses are byte offsets into the imported memory; hd must be a multiple of 4.
 */

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  const b = Array.from(new TextEncoder().encode(s));
  return [...uleb(b.length), ...b];
}

// Instructions used below.
const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const i32c = (v: number): number[] => [0x41, ...sleb(v)];
const I32_ADD = [0x6a];
const I32_GE_U = [0x4f];
const F32_ADD = [0x92];
const F32_MUL = [0x94];
const F32_LOAD = [0x2a, 2, 0];
const F32_STORE = [0x38, 2, 0];
const V128_LOAD = [0xfd, ...uleb(0x00), 0, 0];
const V128_STORE = [0xfd, ...uleb(0x0b), 0, 0];
const V128_ZERO = [0xfd, ...uleb(0x0c), ...new Array(16).fill(0)];
const F32X4_SPLAT = [0xfd, ...uleb(0x13)];
const lane = (l: number): number[] => [0xfd, ...uleb(0x1f), l];
const F32X4_ADD = [0xfd, ...uleb(0xe4)];
const F32X4_MUL = [0xfd, ...uleb(0xe6)];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const br = (d: number): number[] => [0x0c, d];
const brIf = (d: number): number[] => [0x0d, d];

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function buildModule(): Uint8Array {
  // $scores params: 0 q, 1 k, 2 n, 3 hdBytes, 4 strideBytes, 5 scale, 6 out; locals: 7 t, 8 j, 9 acc (v128)
  const scores = [
    ...BLOCK,
    ...LOOP,
    ...get(7), ...get(2), ...I32_GE_U, ...brIf(1),
    ...V128_ZERO, ...set(9),
    ...i32c(0), ...set(8),
    ...BLOCK,
    ...LOOP,
    ...get(8), ...get(3), ...I32_GE_U, ...brIf(1),
    ...get(9),
    ...get(0), ...get(8), ...I32_ADD, ...V128_LOAD,
    ...get(1), ...get(8), ...I32_ADD, ...V128_LOAD,
    ...F32X4_MUL, ...F32X4_ADD, ...set(9),
    ...get(8), ...i32c(16), ...I32_ADD, ...set(8),
    ...br(0),
    ...END,
    ...END,
    // out[t] = ((l0 + l1) + (l2 + l3)) * scale
    ...get(6),
    ...get(9), ...lane(0), ...get(9), ...lane(1), ...F32_ADD,
    ...get(9), ...lane(2), ...get(9), ...lane(3), ...F32_ADD,
    ...F32_ADD, ...get(5), ...F32_MUL,
    ...F32_STORE,
    ...get(6), ...i32c(4), ...I32_ADD, ...set(6),
    ...get(1), ...get(4), ...I32_ADD, ...set(1),
    ...get(7), ...i32c(1), ...I32_ADD, ...set(7),
    ...br(0),
    ...END,
    ...END,
  ];
  // $accum params: 0 p, 1 v, 2 n, 3 hdBytes, 4 strideBytes, 5 out; locals: 6 t, 7 j, 8 acc (v128), 9 pp, 10 vv.
  // Column chunks outside, positions inside: each 4-lane chunk of out stays in a register over all t.
  const accum = [
    ...BLOCK,
    ...LOOP,
    ...get(7), ...get(3), ...I32_GE_U, ...brIf(1),
    ...get(5), ...get(7), ...I32_ADD, ...V128_LOAD, ...set(8),
    ...get(0), ...set(9),
    ...get(1), ...get(7), ...I32_ADD, ...set(10),
    ...i32c(0), ...set(6),
    ...BLOCK,
    ...LOOP,
    ...get(6), ...get(2), ...I32_GE_U, ...brIf(1),
    ...get(8),
    ...get(9), ...F32_LOAD, ...F32X4_SPLAT,
    ...get(10), ...V128_LOAD,
    ...F32X4_MUL, ...F32X4_ADD, ...set(8),
    ...get(9), ...i32c(4), ...I32_ADD, ...set(9),
    ...get(10), ...get(4), ...I32_ADD, ...set(10),
    ...get(6), ...i32c(1), ...I32_ADD, ...set(6),
    ...br(0),
    ...END,
    ...END,
    ...get(5), ...get(7), ...I32_ADD, ...get(8), ...V128_STORE,
    ...get(7), ...i32c(16), ...I32_ADD, ...set(7),
    ...br(0),
    ...END,
    ...END,
  ];
  const body = (locals: number[][], code: number[]): number[] => {
    const f = [...vec(locals), ...code, ...END];
    return [...uleb(f.length), ...f];
  };
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([
      [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [F32], [I32]]), ...vec([])],
      [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32]]), ...vec([])],
    ])),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0], [1]])),
    ...section(7, vec([
      [...name("scores"), 0x00, 0],
      [...name("accum"), 0x00, 1],
    ])),
    ...section(10, vec([
      body([[2, I32], [1, V128]], scores),
      body([[2, I32], [1, V128], [2, I32]], accum),
    ])),
  ];
  return Uint8Array.from(bytes);
}

interface KernelExports {
  scores(q: number, k: number, n: number, hdBytes: number, strideBytes: number, scale: number, out: number): void;
  accum(p: number, v: number, n: number, hdBytes: number, strideBytes: number, out: number): void;
}

// The project's TypeScript lib (ES2023, no DOM) does not declare the WebAssembly JS API; these are the few
// members used here, typed locally.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (desc: { initial: number; maximum?: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | null = null;

/** True where WebAssembly SIMD is available (Node ≥ 16.4). */
export function simdAvailable(): boolean {
  try {
    if (compiled === null) compiled = new wasm.Module(buildModule());
    return true;
  } catch {
    return false;
  }
}

const PAGE = 65536;

/**
 * A growable wasm memory with a size-class allocator, holding KV caches (and a scratch area for the
 * kernels). Float offsets stay valid across growth; `f32` is refreshed whenever the memory grows.
 */
export class KernelArena {
  readonly memory: WasmMemory;
  f32: Float32Array;
  readonly kernels: KernelExports;
  /** Next never-used float offset. */
  private top: number;
  private readonly free = new Map<number, number[]>();
  /** Scratch float offset and size (q, out, scores). */
  scratch = 0;
  private scratchSize = 0;

  constructor(initialBytes = 16 << 20) {
    if (compiled === null) compiled = new wasm.Module(buildModule());
    this.memory = new wasm.Memory({ initial: Math.ceil(initialBytes / PAGE) });
    const instance = new wasm.Instance(compiled, { env: { memory: this.memory } });
    this.kernels = instance.exports as unknown as KernelExports;
    this.f32 = new Float32Array(this.memory.buffer);
    this.top = 16; // keep offset 0 unused
  }

  /** Allocates `floats` (rounded up to a power of two ≥ 64); returns a float offset (16-byte aligned). */
  alloc(floats: number): number {
    const size = sizeClass(floats);
    const list = this.free.get(size);
    if (list !== undefined && list.length > 0) return list.pop()!;
    const off = this.top;
    this.top += size;
    this.reserve(this.top);
    return off;
  }

  release(offset: number, floats: number): void {
    const size = sizeClass(floats);
    let list = this.free.get(size);
    if (list === undefined) this.free.set(size, (list = []));
    list.push(offset);
  }

  /** A scratch region of at least `floats` floats (valid until the next call). */
  ensureScratch(floats: number): number {
    if (floats > this.scratchSize) {
      if (this.scratchSize > 0) this.release(this.scratch, this.scratchSize);
      this.scratchSize = sizeClass(floats * 2);
      this.scratch = this.alloc(this.scratchSize);
    }
    return this.scratch;
  }

  private reserve(floats: number): void {
    const need = floats * 4;
    const have = this.memory.buffer.byteLength;
    if (need <= have) return;
    this.memory.grow(Math.ceil(Math.max(need - have, have / 2) / PAGE));
    this.f32 = new Float32Array(this.memory.buffer);
  }
}

function sizeClass(floats: number): number {
  let s = 64;
  while (s < floats) s *= 2;
  return s;
}
