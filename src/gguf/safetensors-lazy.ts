/**
 * The tensors of an HF folder's weights read one at a time: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json` (as transformers and TRL save models over a few GB). Only headers are read up
 * front, so a folder larger than memory or than one Node buffer can be converted. F32, F16 and BF16 are read.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { parseJsonText } from "../data/json-error.js";
import { InputError } from "../util/errors.js";
import { bf16ToFloat, halfToFloatTable } from "./half.js";

interface Entry {
  file: string;
  dtype: "F32" | "F16" | "BF16";
  shape: number[];
  /** Absolute byte range in `file`. */
  start: number;
  length: number;
}

export class LazySafetensors {
  private constructor(private readonly entries: Map<string, Entry>) {}

  /** Opens `dir`'s model.safetensors or its sharded index; errors name the file and field. */
  static openFolder(dir: string): LazySafetensors {
    const single = join(dir, "model.safetensors");
    const index = join(dir, "model.safetensors.index.json");
    const entries = new Map<string, Entry>();
    if (existsSync(single)) {
      readHeader(single, entries);
    } else if (existsSync(index)) {
      const raw = parseJsonText(index, readFileSync(index, "utf8")) as { weight_map?: unknown } | null;
      const map = raw?.weight_map;
      if (map === null || typeof map !== "object" || Array.isArray(map)) throw new InputError({ file: index, field: "weight_map" }, "expected an object of tensor name → shard file");
      const shards = new Set(Object.values(map as Record<string, unknown>).map(String));
      for (const shard of shards) readHeader(join(dir, shard), entries);
    } else {
      throw new InputError({ file: single }, "file missing (an HF model folder needs model.safetensors or model.safetensors.index.json)");
    }
    return new LazySafetensors(entries);
  }

  shape(name: string): number[] | undefined {
    return this.entries.get(name)?.shape;
  }

  file(name: string): string | undefined {
    return this.entries.get(name)?.file;
  }

  /** The tensor as float32. */
  read(name: string): Float32Array {
    const e = this.entries.get(name);
    if (e === undefined) throw new Error(`no tensor ${name}`);
    const fd = openSync(e.file, "r");
    const bytes = Buffer.alloc(e.length);
    try {
      const n = readSync(fd, bytes, 0, e.length, e.start);
      if (n !== e.length) throw new InputError({ file: e.file, field: name }, `read ${n} of ${e.length} bytes (file changed or truncated?)`);
    } finally {
      closeSync(fd);
    }
    const count = e.length / (e.dtype === "F32" ? 4 : 2);
    const out = new Float32Array(count);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (e.dtype === "F32") for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
    else if (e.dtype === "BF16") for (let i = 0; i < count; i++) out[i] = bf16ToFloat(dv.getUint16(i * 2, true));
    else {
      const half = halfToFloatTable();
      for (let i = 0; i < count; i++) out[i] = half[dv.getUint16(i * 2, true)];
    }
    return out;
  }
}

function readHeader(file: string, into: Map<string, Entry>): void {
  if (!existsSync(file)) throw new InputError({ file }, "file missing (named by model.safetensors.index.json)");
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const lenBuf = Buffer.alloc(8);
    if (size < 8 || readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new InputError({ file }, "too short to be a safetensors file");
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen <= 0 || 8 + headerLen > size) throw new InputError({ file }, `header length ${headerLen} does not fit in the file (${size} bytes)`);
    const hb = Buffer.alloc(headerLen);
    readSync(fd, hb, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hb.toString("utf8")) as Record<string, unknown>;
    } catch (err) {
      throw new InputError({ file }, `header is not valid JSON: ${(err as Error).message}`);
    }
    const dataStart = 8 + headerLen;
    for (const [name, raw] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (e.dtype !== "F32" && e.dtype !== "F16" && e.dtype !== "BF16") throw new InputError({ file, field: name }, `dtype ${JSON.stringify(e.dtype)} is not supported (F32, F16, BF16)`);
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new InputError({ file, field: name }, "shape must be a list of non-negative integers");
      const offs = e.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((x) => Number.isInteger(x))) throw new InputError({ file, field: name }, "data_offsets must be [begin, end]");
      const [begin, end] = offs as [number, number];
      const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
      if (begin < 0 || dataStart + end > size || end - begin !== count * (e.dtype === "F32" ? 4 : 2)) {
        throw new InputError({ file, field: name }, `data_offsets [${begin}, ${end}] do not match shape [${(e.shape as number[]).join(", ")}] of ${e.dtype} within the file`);
      }
      if (into.has(name)) throw new InputError({ file, field: name }, "tensor appears in two shards");
      into.set(name, { file, dtype: e.dtype, shape: (e.shape as number[]).slice(), start: dataStart + begin, length: end - begin });
    }
  } finally {
    closeSync(fd);
  }
}
