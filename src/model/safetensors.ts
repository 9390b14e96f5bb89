/**
 * A small reader/writer for the safetensors format: an 8-byte little-endian header length, a JSON header
 * mapping each tensor name to {dtype, shape, data_offsets} (offsets relative to the end of the header), then
 * the raw little-endian data. We read F32, F16 and BF16 (converted to float32) and write F32.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { InputError } from "../util/errors.js";

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type TensorMap = Map<string, NamedTensor>;

const SUPPORTED = new Set(["F32", "F16", "BF16"]);

export function readSafetensorsFile(file: string): { tensors: TensorMap; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new InputError({ file }, `cannot read: ${(err as Error).message}`);
  }
  return parseSafetensors(buf, file);
}

export function parseSafetensors(buf: Uint8Array, file = "<safetensors>"): { tensors: TensorMap; metadata: Record<string, string> } {
  if (buf.byteLength < 8) throw new InputError({ file }, "too short to be a safetensors file");
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > buf.byteLength) {
    throw new InputError({ file }, `header length ${headerLen} does not fit in the file (${buf.byteLength} bytes)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLen))) as Record<string, unknown>;
  } catch (err) {
    throw new InputError({ file }, `header is not valid JSON: ${(err as Error).message}`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const field = name;
    if (typeof e.dtype !== "string" || !SUPPORTED.has(e.dtype)) {
      throw new InputError({ file, field }, `dtype ${JSON.stringify(e.dtype)} is not supported (F32, F16, BF16)`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new InputError({ file, field }, "shape must be a list of non-negative integers");
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((x) => Number.isInteger(x))) {
      throw new InputError({ file, field }, "data_offsets must be [begin, end]");
    }
    const [begin, end] = offsets as [number, number];
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    const bytesPer = e.dtype === "F32" ? 4 : 2;
    if (begin < 0 || end > dataLen || end - begin !== count * bytesPer) {
      throw new InputError({ file, field }, `data_offsets [${begin}, ${end}] do not match shape [${(e.shape as number[]).join(", ")}] of ${e.dtype} within ${dataLen} data bytes`);
    }
    const bytes = buf.subarray(dataStart + begin, dataStart + end);
    tensors.set(name, { shape: (e.shape as number[]).slice(), data: decode(bytes, e.dtype, count) });
  }
  return { tensors, metadata };
}

function decode(bytes: Uint8Array, dtype: string, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "F32") {
    for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
  } else if (dtype === "BF16") {
    // bfloat16 is the top half of a float32.
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u32[i] = dv.getUint16(i * 2, true) << 16;
  } else {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
  }
  return out;
}

/** IEEE 754 binary16 → number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Serialises tensors as F32 in the given order (safetensors readers sort by offset; names stay as given). */
export function serializeSafetensors(tensors: TensorMap, metadata: Record<string, string> = { format: "pt" }): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor ${name}: shape [${t.shape.join(", ")}] does not match ${t.data.length} values`);
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let headerJson = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  const pad = (8 - ((8 + Buffer.byteLength(headerJson)) % 8)) % 8;
  headerJson += " ".repeat(pad);
  const headerBytes = Buffer.from(headerJson, "utf8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    const src = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (isLittleEndian()) src.copy(out, pos);
    else for (let i = 0; i < t.data.length; i++) out.writeFloatLE(t.data[i], pos + i * 4);
    pos += t.data.byteLength;
  }
  return out;
}

export function writeSafetensorsFile(file: string, tensors: TensorMap, metadata?: Record<string, string>): void {
  writeFileSync(file, serializeSafetensors(tensors, metadata));
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}
