/**
 * Writing a GGUF v3 file: header, metadata, tensor infos, padding to the alignment, then each tensor's data at an
 * aligned offset. Tensor bytes are produced one tensor at a time (`encode`), so a model is never held twice in
 * memory; the file appears under its name only once complete (written beside it, then renamed).
 */
import { writeSync } from "node:fs";
import { writeAtomically } from "../util/atomic-file.js";
import { BLOCK, DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, VALUE_TYPE } from "./constants.js";
import type { MetaValue, Metadata, Scalar } from "./metadata.js";

export interface TensorToWrite {
  name: string;
  /** ggml order (dims[0] fastest). */
  dims: number[];
  type: number;
  /** The tensor's bytes in `type`; called once, while writing. */
  encode: () => Uint8Array;
}

class ByteWriter {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.length++);
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  u64(v: number): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  string(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  scalar(type: number, v: Scalar, key: string): void {
    const num = (): number => {
      if (typeof v !== "number") throw new Error(`GGUF metadata ${key}: expected a number, got ${JSON.stringify(v)}`);
      return v;
    };
    this.ensure(8);
    const b = this.buf;
    switch (type) {
      case VALUE_TYPE.UINT8: b.writeUInt8(num(), this.length); this.length += 1; break;
      case VALUE_TYPE.INT8: b.writeInt8(num(), this.length); this.length += 1; break;
      case VALUE_TYPE.UINT16: b.writeUInt16LE(num(), this.length); this.length += 2; break;
      case VALUE_TYPE.INT16: b.writeInt16LE(num(), this.length); this.length += 2; break;
      case VALUE_TYPE.UINT32: b.writeUInt32LE(num(), this.length); this.length += 4; break;
      case VALUE_TYPE.INT32: b.writeInt32LE(num(), this.length); this.length += 4; break;
      case VALUE_TYPE.FLOAT32: b.writeFloatLE(num(), this.length); this.length += 4; break;
      case VALUE_TYPE.FLOAT64: b.writeDoubleLE(num(), this.length); this.length += 8; break;
      case VALUE_TYPE.UINT64: b.writeBigUInt64LE(BigInt(num()), this.length); this.length += 8; break;
      case VALUE_TYPE.INT64: b.writeBigInt64LE(BigInt(num()), this.length); this.length += 8; break;
      case VALUE_TYPE.BOOL:
        if (typeof v !== "boolean") throw new Error(`GGUF metadata ${key}: expected a bool`);
        this.u8(v ? 1 : 0);
        break;
      case VALUE_TYPE.STRING:
        if (typeof v !== "string") throw new Error(`GGUF metadata ${key}: expected a string`);
        this.string(v);
        break;
      default:
        throw new Error(`GGUF metadata ${key}: unknown value type ${type}`);
    }
  }
  value(v: MetaValue, key: string): void {
    this.u32(v.type);
    if ("values" in v) {
      this.u32(v.itemType);
      this.u64(v.values.length);
      for (const x of v.values) this.scalar(v.itemType, x, key);
    } else this.scalar(v.type, v.value, key);
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function byteLength(t: TensorToWrite): number {
  const block = BLOCK[t.type];
  if (block === undefined) throw new Error(`tensor ${t.name}: unsupported ggml type ${t.type}`);
  if (t.dims[0] % block.elements !== 0) throw new Error(`tensor ${t.name}: row length ${t.dims[0]} is not a multiple of the block size ${block.elements}`);
  return (t.dims.reduce((a, b) => a * b, 1) / block.elements) * block.bytes;
}

/** Writes `tensors` with `metadata` to `file`. `onTensor` is called after each tensor (progress). */
export function writeGgufFile(file: string, metadata: Metadata, tensors: TensorToWrite[], onTensor?: (done: number, total: number) => void): void {
  const alignment = DEFAULT_ALIGNMENT;
  const align = (n: number): number => Math.ceil(n / alignment) * alignment;
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, v] of metadata) {
    w.string(key);
    w.value(v, key);
  }
  const sizes = tensors.map(byteLength);
  let offset = 0;
  tensors.forEach((t, i) => {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    offset = align(offset + sizes[i]);
  });
  const header = w.bytes();
  const zeros = Buffer.alloc(alignment);
  writeAtomically(file, (fd) => {
    writeSync(fd, header);
    writeSync(fd, zeros, 0, align(header.length) - header.length);
    tensors.forEach((t, i) => {
      const data = t.encode();
      if (data.byteLength !== sizes[i]) throw new Error(`tensor ${t.name}: encoded ${data.byteLength} bytes, expected ${sizes[i]}`);
      writeSync(fd, data);
      writeSync(fd, zeros, 0, align(sizes[i]) - sizes[i]);
      onTensor?.(i + 1, tensors.length);
    });
  });
}
