/**
 * A tiny assembler for the stack form of WebAssembly text (the subset the model's kernels use), so the kernels
 * can be written and read as WAT instead of byte lists, and still be built at run time without a toolchain.
 *
 * A function body is a whitespace-separated instruction stream (`;;` starts a comment to the end of the line):
 * `local.get $x`, `i32.const 16`, `f32.const 0.5`, `f32x4.const 0.5` (a v128 with four equal lanes),
 * `f32x4.shuffle 0 4 1 5` (i8x16.shuffle by 32-bit lanes), `v128.load offset=16`, `br_if 1`, `block` / `loop` / `if` (no result type) … `end`, `call $name`, and the
 * plain opcodes of the table below. Locals and parameters are declared without and referred to with a `$`.
 */

export type ValType = "i32" | "f32" | "v128";

export interface WasmFunction {
  name: string;
  params: Array<[string, ValType]>;
  locals: Array<[string, ValType]>;
  result?: ValType;
  body: string;
  /** Exported under its name (default true). */
  exported?: boolean;
}

const TYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

/** Opcodes without immediates. */
const PLAIN: Record<string, number[]> = {
  return: [0x0f],
  drop: [0x1a],
  select: [0x1b],
  "i32.eqz": [0x45],
  "i32.eq": [0x46],
  "i32.ne": [0x47],
  "i32.lt_s": [0x48],
  "i32.lt_u": [0x49],
  "i32.gt_s": [0x4a],
  "i32.gt_u": [0x4b],
  "i32.le_s": [0x4c],
  "i32.le_u": [0x4d],
  "i32.ge_s": [0x4e],
  "i32.ge_u": [0x4f],
  "f32.eq": [0x5b],
  "f32.lt": [0x5d],
  "f32.gt": [0x5e],
  "i32.add": [0x6a],
  "i32.sub": [0x6b],
  "i32.mul": [0x6c],
  "i32.div_u": [0x6e],
  "i32.and": [0x71],
  "i32.shl": [0x74],
  "i32.shr_u": [0x76],
  "f32.abs": [0x8b],
  "f32.neg": [0x8c],
  "f32.sqrt": [0x91],
  "f32.add": [0x92],
  "f32.sub": [0x93],
  "f32.mul": [0x94],
  "f32.div": [0x95],
  "f32.min": [0x96],
  "f32.max": [0x97],
  "f32.convert_i32_u": [0xb3],
  "i32x4.splat": [0xfd, 0x11],
  "f32x4.splat": [0xfd, 0x13],
  "i32x4.lt_s": [0xfd, 0x39],
  "f32x4.gt": [0xfd, 0x44],
  "v128.and": [0xfd, 0x4e],
  "v128.bitselect": [0xfd, 0x52],
  "f32x4.nearest": [0xfd, 0x6a],
  "i32x4.shl": [0xfd, 0xab, 0x01],
  "i32x4.add": [0xfd, 0xae, 0x01],
  "f32x4.neg": [0xfd, 0xe1, 0x01],
  "f32x4.add": [0xfd, 0xe4, 0x01],
  "f32x4.sub": [0xfd, 0xe5, 0x01],
  "f32x4.mul": [0xfd, 0xe6, 0x01],
  "f32x4.div": [0xfd, 0xe7, 0x01],
  "f32x4.min": [0xfd, 0xe8, 0x01],
  "f32x4.max": [0xfd, 0xe9, 0x01],
  "i32x4.trunc_sat_f32x4_s": [0xfd, 0xf8, 0x01],
};

/** Memory instructions: opcode bytes and natural alignment (log2). */
const MEMORY: Record<string, [number[], number]> = {
  "i32.load": [[0x28], 2],
  "f32.load": [[0x2a], 2],
  "i32.store": [[0x36], 2],
  "f32.store": [[0x38], 2],
  "v128.load": [[0xfd, 0x00], 4],
  "v128.store": [[0xfd, 0x0b], 4],
};

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

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

function f32Bytes(x: number): number[] {
  return Array.from(new Uint8Array(Float32Array.of(x).buffer));
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

function assembleBody(fn: WasmFunction, funcIndex: Map<string, number>): number[] {
  const localIndex = new Map<string, number>();
  [...fn.params, ...fn.locals].forEach(([n], i) => localIndex.set("$" + n, i));
  const tokens = fn.body
    .split("\n")
    .map((line) => line.replace(/;;.*$/, ""))
    .join(" ")
    .split(/\s+/)
    .filter((t) => t.length > 0);
  const code: number[] = [];
  const fail = (msg: string): never => {
    throw new Error(`wasm kernel ${fn.name}: ${msg}`);
  };
  let i = 0;
  const next = (): string => (i < tokens.length ? tokens[i++] : fail("unexpected end of body"));
  const local = (): number => {
    const t = next();
    const idx = localIndex.get(t);
    return idx === undefined ? fail(`unknown local ${t}`) : idx;
  };
  while (i < tokens.length) {
    const op = next();
    if (op in PLAIN) code.push(...PLAIN[op]);
    else if (op in MEMORY) {
      const [bytes, align] = MEMORY[op];
      let offset = 0;
      if (i < tokens.length && tokens[i].startsWith("offset=")) offset = Number(next().slice(7));
      code.push(...bytes, align, ...uleb(offset));
    } else if (op === "local.get") code.push(0x20, ...uleb(local()));
    else if (op === "local.set") code.push(0x21, ...uleb(local()));
    else if (op === "local.tee") code.push(0x22, ...uleb(local()));
    else if (op === "i32.const") code.push(0x41, ...sleb(Number(next())));
    else if (op === "f32.const") code.push(0x43, ...f32Bytes(Number(next())));
    else if (op === "f32x4.const") {
      const b = f32Bytes(Number(next()));
      code.push(0xfd, 0x0c, ...b, ...b, ...b, ...b);
    } else if (op === "i32x4.const") {
      const lanes = [next(), next(), next(), next()].map(Number);
      code.push(0xfd, 0x0c, ...Array.from(new Uint8Array(Int32Array.from(lanes).buffer)));
    } else if (op === "f32x4.shuffle") {
      // i8x16.shuffle picking 32-bit lanes 0–3 of the first operand and 4–7 of the second.
      const lanes = [next(), next(), next(), next()].map(Number);
      code.push(0xfd, 0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
    } else if (op === "f32x4.extract_lane") code.push(0xfd, 0x1f, Number(next()));
    else if (op === "block") code.push(0x02, 0x40);
    else if (op === "loop") code.push(0x03, 0x40);
    else if (op === "if") code.push(0x04, 0x40);
    else if (op === "else") code.push(0x05);
    else if (op === "end") code.push(0x0b);
    else if (op === "br") code.push(0x0c, ...uleb(Number(next())));
    else if (op === "br_if") code.push(0x0d, ...uleb(Number(next())));
    else if (op === "call") {
      const t = next();
      const idx = funcIndex.get(t);
      code.push(0x10, ...uleb(idx === undefined ? fail(`unknown function ${t}`) : idx));
    } else fail(`unknown instruction ${op}`);
  }
  const locals = fn.locals.map(([, t]) => [1, TYPE[t]]);
  const body = [...vec(locals), ...code, 0x0b];
  return [...uleb(body.length), ...body];
}

/** A module importing `env.memory` and defining (and exporting) the given functions. */
export function assembleModule(fns: WasmFunction[]): Uint8Array {
  const funcIndex = new Map(fns.map((f, i) => ["$" + f.name, i] as [string, number]));
  const types = fns.map((f) => [0x60, ...vec(f.params.map(([, t]) => [TYPE[t]])), ...vec(f.result ? [[TYPE[f.result]]] : [])]);
  const exported = fns.map((f, i) => [f, i] as const).filter(([f]) => f.exported !== false);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(exported.map(([f, i]) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map((f) => assembleBody(f, funcIndex)))),
  ];
  return Uint8Array.from(bytes);
}
