/**
 * Reading a GGUF file: the header (magic, version, counts), the metadata key/values, the tensor infos, and each
 * tensor's bytes. Only the header is read up front (in growing chunks, since its size is known only once it is
 * parsed); tensor data is read per tensor, so files larger than a Node buffer can be read.
 * Every problem — bad magic, an unsupported version, a truncated header, a tensor whose data runs past the end
 * of the file — is an InputError naming the file and the field or tensor.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { InputError } from "../util/errors.js";
import { BLOCK, DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, VALUE_TYPE, ggmlTypeName } from "./constants.js";
import { MetadataView, type MetaValue, type Metadata, type Scalar } from "./metadata.js";

export interface TensorInfo {
  name: string;
  /** ggml order: dims[0] is the fastest-varying (row length); an HF [out, in] matrix is dims [in, out]. */
  dims: number[];
  type: number;
  /** Byte offset from the start of the data section. */
  offset: number;
  elements: number;
  byteLength: number;
}

export interface GgufFile {
  file: string;
  version: number;
  metadata: MetadataView;
  tensors: TensorInfo[];
  alignment: number;
  /** Absolute byte offset of the data section. */
  dataStart: number;
  fileSize: number;
}

/** Thrown inside the header parser when the chunk read so far ends; the caller reads more and retries. */
class ChunkEnded extends Error {}

class HeaderParser {
  pos = 0;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  /** What is being read, for errors. */
  field = "header";

  constructor(
    private readonly buf: Uint8Array,
    private readonly isWholeFile: boolean,
    private readonly file: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  bad(detail: string, field = this.field): never {
    throw new InputError({ file: this.file, field }, detail);
  }

  private need(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    if (!this.isWholeFile) throw new ChunkEnded();
    this.bad(`the file ends at byte ${this.buf.byteLength} while reading ${n} bytes at ${this.pos} (truncated?)`);
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.bad(`value ${v} is too large (corrupt file?)`);
    return Number(v);
  }

  string(): string {
    const n = this.u64();
    // A length beyond the file is corruption, not a reason to read more.
    if (this.isWholeFile && this.pos + n > this.buf.byteLength) this.bad(`a string of ${n} bytes runs past the end of the file (truncated or corrupt?)`);
    this.need(n);
    try {
      const s = this.decoder.decode(this.buf.subarray(this.pos, this.pos + n));
      this.pos += n;
      return s;
    } catch {
      return this.bad("a string is not valid UTF-8");
    }
  }

  scalar(type: number): Scalar {
    const v = this.view;
    const take = (n: number): number => {
      this.need(n);
      const at = this.pos;
      this.pos += n;
      return at;
    };
    switch (type) {
      case VALUE_TYPE.UINT8: return v.getUint8(take(1));
      case VALUE_TYPE.INT8: return v.getInt8(take(1));
      case VALUE_TYPE.UINT16: return v.getUint16(take(2), true);
      case VALUE_TYPE.INT16: return v.getInt16(take(2), true);
      case VALUE_TYPE.UINT32: return v.getUint32(take(4), true);
      case VALUE_TYPE.INT32: return v.getInt32(take(4), true);
      case VALUE_TYPE.FLOAT32: return v.getFloat32(take(4), true);
      case VALUE_TYPE.FLOAT64: return v.getFloat64(take(8), true);
      case VALUE_TYPE.UINT64: return this.u64();
      case VALUE_TYPE.INT64: {
        const x = v.getBigInt64(take(8), true);
        if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < BigInt(Number.MIN_SAFE_INTEGER)) this.bad(`int64 value ${x} is out of range`);
        return Number(x);
      }
      case VALUE_TYPE.BOOL: {
        const b = v.getUint8(take(1));
        if (b > 1) this.bad(`a bool holds ${b} (corrupt file?)`);
        return b === 1;
      }
      case VALUE_TYPE.STRING: return this.string();
      default: return this.bad(`unknown metadata value type ${type} (corrupt file?)`);
    }
  }

  value(): MetaValue {
    const type = this.u32();
    if (type !== VALUE_TYPE.ARRAY) return { type, value: this.scalar(type) };
    const itemType = this.u32();
    if (itemType === VALUE_TYPE.ARRAY) this.bad("arrays of arrays are not supported");
    const n = this.u64();
    // Every item takes at least one byte: a count beyond the file is corruption.
    if (this.isWholeFile && this.pos + n > this.buf.byteLength) this.bad(`an array of ${n} items runs past the end of the file (truncated or corrupt?)`);
    const values: Scalar[] = new Array(n);
    for (let i = 0; i < n; i++) values[i] = this.scalar(itemType);
    return { type, itemType, values };
  }
}

function parseHeader(buf: Uint8Array, isWholeFile: boolean, file: string, fileSize: number): GgufFile {
  const p = new HeaderParser(buf, isWholeFile, file);
  p.field = "magic";
  const magic = p.u32();
  if (magic !== GGUF_MAGIC) p.bad(`not a GGUF file (the first 4 bytes are not "GGUF")`);
  p.field = "version";
  const version = p.u32();
  // The version is written in the file's byte order: a byte-swapped small number means a big-endian file.
  if (version > 0xffff && (((version >>> 24) | ((version >>> 8) & 0xff00)) === GGUF_VERSION || version >>> 24 === 2)) {
    p.bad("big-endian GGUF files are not supported");
  }
  if (version !== GGUF_VERSION && version !== 2) p.bad(`GGUF version ${version} is not supported (2 and 3 are)`);
  p.field = "tensor_count";
  const tensorCount = p.u64();
  p.field = "metadata_kv_count";
  const kvCount = p.u64();
  // Each entry takes at least 12 bytes; counts beyond that are corruption, not huge models.
  if (tensorCount > fileSize / 12) p.bad(`${tensorCount} tensors cannot fit in ${fileSize} bytes (truncated or corrupt file?)`, "tensor_count");
  if (kvCount > fileSize / 12) p.bad(`${kvCount} metadata entries cannot fit in ${fileSize} bytes (truncated or corrupt file?)`, "metadata_kv_count");

  const metadata: Metadata = new Map();
  for (let i = 0; i < kvCount; i++) {
    p.field = `metadata entry ${i}`;
    const key = p.string();
    p.field = key;
    if (metadata.has(key)) p.bad("the key appears twice");
    metadata.set(key, p.value());
  }
  const view = new MetadataView(metadata, file);
  const alignment = view.integer("general.alignment") ?? DEFAULT_ALIGNMENT;
  if (alignment === 0 || (alignment & (alignment - 1)) !== 0) p.bad(`must be a power of two, got ${alignment}`, "general.alignment");

  const tensors: TensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    p.field = `tensor info ${i}`;
    const name = p.string();
    p.field = name;
    if (names.has(name)) p.bad("the tensor name appears twice");
    names.add(name);
    const nDims = p.u32();
    if (nDims < 1 || nDims > 4) p.bad(`has ${nDims} dimensions (1 to 4 allowed)`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(p.u64());
    const type = p.u32();
    const offset = p.u64();
    const block = BLOCK[type];
    const elements = dims.reduce((a, b) => a * b, 1);
    let byteLength = 0;
    if (block !== undefined) {
      if (dims[0] % block.elements !== 0) p.bad(`row length ${dims[0]} is not a multiple of ${ggmlTypeName(type)}'s block of ${block.elements}`);
      byteLength = (elements / block.elements) * block.bytes;
    }
    if (offset % alignment !== 0) p.bad(`data offset ${offset} is not a multiple of the alignment ${alignment}`);
    tensors.push({ name, dims, type, offset, elements, byteLength });
  }
  const dataStart = Math.ceil(p.pos / alignment) * alignment;
  return { file, version, metadata: view, tensors, alignment, dataStart, fileSize };
}

/** Reads and checks the header of `file` (metadata and tensor infos; no tensor data). */
export function readGguf(file: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (err) {
    throw new InputError({ file }, `cannot read: ${(err as Error).message}`);
  }
  try {
    const fileSize = fstatSync(fd).size;
    let chunk = Math.min(fileSize, 8 << 20);
    for (;;) {
      const buf = Buffer.alloc(chunk);
      const n = readSync(fd, buf, 0, chunk, 0);
      try {
        const g = parseHeader(buf.subarray(0, n), chunk >= fileSize, file, fileSize);
        checkTensorBounds(g);
        return g;
      } catch (err) {
        if (!(err instanceof ChunkEnded)) throw err;
        chunk = Math.min(fileSize, chunk * 4);
      }
    }
  } finally {
    closeSync(fd);
  }
}

function checkTensorBounds(g: GgufFile): void {
  const dataBytes = g.fileSize - g.dataStart;
  for (const t of g.tensors) {
    if (t.byteLength === 0 && BLOCK[t.type] === undefined) continue; // unsupported types are refused when read
    if (t.offset + t.byteLength > dataBytes) {
      throw new InputError(
        { file: g.file, field: t.name },
        `tensor data [${t.offset}, ${t.offset + t.byteLength}) runs past the end of the file's ${dataBytes} data bytes (truncated?)`,
      );
    }
  }
}

/** The raw bytes of one tensor. */
export function readTensorBytes(g: GgufFile, t: TensorInfo, fd?: number): Uint8Array {
  if (BLOCK[t.type] === undefined) {
    throw new InputError({ file: g.file, field: t.name }, `tensor type ${ggmlTypeName(t.type)} is not supported (${Object.keys(BLOCK).map((k) => ggmlTypeName(Number(k))).join(", ")} are)`);
  }
  const own = fd === undefined;
  const handle = fd ?? openSync(g.file, "r");
  try {
    const buf = Buffer.alloc(t.byteLength);
    const n = readSync(handle, buf, 0, t.byteLength, g.dataStart + t.offset);
    if (n !== t.byteLength) throw new InputError({ file: g.file, field: t.name }, `read ${n} of ${t.byteLength} bytes (file changed or truncated?)`);
    return buf;
  } finally {
    if (own) closeSync(handle);
  }
}
