/**
 * Training checkpoints: one file holding the weights, the optimizer moments and the trainer's position, written
 * atomically (temporary file, fsync, rename, fsync of the folder) so a run killed at any instant leaves either
 * the previous checkpoint or the new one, never a torn file.
 *
 * The layout is safetensors (8-byte little-endian header length, JSON header, raw little-endian float32 data),
 * so `safetensors.safe_open` in Python can read it for debugging. Tensor names are prefixed `param/`, `adam_m/`,
 * `adam_v/`; the trainer state is JSON in the header's `__metadata__` under `tokensqueeze.trainer`.
 */
import { existsSync, readFileSync, writeSync } from "node:fs";
import { removeStaleTemporaries, writeAtomically } from "../util/atomic-file.js";

export const checkpointFormatVersion = 1;
const stateKey = "tokensqueeze.trainer";

export interface TrainerPosition {
  /** Optimizer steps completed. */
  step: number;
  /** Examples consumed from the data stream (see DataOrder): the data-order position. */
  examplesSeen: number;
  /** The seed the data order and any other trainer randomness derive from. */
  seed: number;
}

/** Everything a checkpoint carries besides tensors. */
export interface CheckpointState extends TrainerPosition {
  format: number;
  optimizerStep: number;
  /** Settings that must not change across a resume (schedule, batch shape, data fingerprint, ...). */
  fingerprint: Record<string, unknown>;
  /** Free-form extras (last loss, tokens seen) for progress reports; not needed to resume. */
  extras?: Record<string, unknown>;
}

export interface CheckpointTensors {
  params: Map<string, { shape: number[]; data: Float32Array }>;
  adamM: Map<string, Float32Array>;
  adamV: Map<string, Float32Array>;
}

export interface Checkpoint {
  state: CheckpointState;
  tensors: CheckpointTensors;
}

interface HeaderEntry {
  dtype: "F32";
  shape: number[];
  data_offsets: [number, number];
}

export function writeCheckpointAtomic(path: string, checkpoint: Checkpoint): void {
  const entries: Array<[string, number[], Float32Array]> = [];
  for (const [name, { shape, data }] of checkpoint.tensors.params) {
    const m = checkpoint.tensors.adamM.get(name);
    const v = checkpoint.tensors.adamV.get(name);
    if (m === undefined || v === undefined) throw new Error(`checkpoint: optimizer moments missing for ${name}`);
    entries.push([`param/${name}`, shape, data], [`adam_m/${name}`, shape, m], [`adam_v/${name}`, shape, v]);
  }
  const header: Record<string, HeaderEntry | Record<string, string>> = {
    __metadata__: { [stateKey]: JSON.stringify(checkpoint.state) },
  };
  let offset = 0;
  for (const [name, shape, data] of entries) {
    const expected = shape.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new Error(`checkpoint: ${name} has ${data.length} values for shape [${shape.join(", ")}]`);
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let headerJson = JSON.stringify(header);
  // Pad so the data starts 8-byte aligned, as the safetensors writers do.
  headerJson += " ".repeat((8 - ((8 + Buffer.byteLength(headerJson)) % 8)) % 8);
  const headerBytes = Buffer.from(headerJson, "utf8");
  const lengthPrefix = Buffer.alloc(8);
  lengthPrefix.writeBigUInt64LE(BigInt(headerBytes.length));

  writeAtomically(
    path,
    (fd) => {
      writeSync(fd, lengthPrefix);
      writeSync(fd, headerBytes);
      for (const [, , data] of entries) writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    },
    { durable: true },
  );
}

export { removeStaleTemporaries };

export function readCheckpoint(path: string): Checkpoint {
  if (!existsSync(path)) throw new Error(`no checkpoint at ${path}`);
  const buf = readFileSync(path);
  if (buf.length < 8) throw new Error(`${path}: not a checkpoint (file too short)`);
  const headerLength = Number(buf.readBigUInt64LE(0));
  if (8 + headerLength > buf.length) throw new Error(`${path}: header length ${headerLength} exceeds the file`);
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, unknown>;
  const meta = header.__metadata__ as Record<string, string> | undefined;
  if (meta?.[stateKey] === undefined) throw new Error(`${path}: not a tokensqueeze trainer checkpoint (no ${stateKey} metadata)`);
  const state = JSON.parse(meta[stateKey]) as CheckpointState;
  if (state.format !== checkpointFormatVersion) {
    throw new Error(`${path}: checkpoint format ${state.format}; this version reads format ${checkpointFormatVersion}`);
  }
  const dataStart = 8 + headerLength;
  const tensors: CheckpointTensors = { params: new Map(), adamM: new Map(), adamV: new Map() };
  for (const [key, value] of Object.entries(header)) {
    if (key === "__metadata__") continue;
    const entry = value as HeaderEntry;
    if (entry.dtype !== "F32") throw new Error(`${path}: tensor ${key} has dtype ${entry.dtype}; checkpoints hold F32 only`);
    const [begin, end] = entry.data_offsets;
    if (dataStart + end > buf.length) throw new Error(`${path}: tensor ${key} runs past the end of the file (truncated?)`);
    // Copy into a fresh, aligned buffer: the file buffer's offset need not be 4-byte aligned.
    const bytes = new Uint8Array(end - begin);
    bytes.set(buf.subarray(dataStart + begin, dataStart + end));
    const data = new Float32Array(bytes.buffer);
    const slash = key.indexOf("/");
    const kind = key.slice(0, slash);
    const name = key.slice(slash + 1);
    if (kind === "param") tensors.params.set(name, { shape: entry.shape, data });
    else if (kind === "adam_m") tensors.adamM.set(name, data);
    else if (kind === "adam_v") tensors.adamV.set(name, data);
    else throw new Error(`${path}: unexpected tensor ${key}`);
  }
  return { state, tensors };
}
