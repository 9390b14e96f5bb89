/**
 * ggml tensor types → float32, following the block layouts of ggml's reference (C) dequantisers. Arithmetic is
 * rounded to float32 at the same steps as gguf-py's numpy dequantisers (tests compare the two on real and
 * generated blocks), e.g. Q4_1 is fround(fround(q·d) + m).
 */
import { BLOCK, GGML_TYPE } from "./constants.js";
import { bf16ToFloat, halfToFloatTable } from "./half.js";

const fr = Math.fround;

export function dequantize(type: number, bytes: Uint8Array, elements: number): Float32Array {
  const block = BLOCK[type];
  if (block === undefined) throw new Error(`dequantize: unsupported ggml type ${type}`);
  if (elements % block.elements !== 0 || bytes.byteLength < (elements / block.elements) * block.bytes) {
    throw new Error(`dequantize: ${bytes.byteLength} bytes do not hold ${elements} elements of type ${type}`);
  }
  const out = new Float32Array(elements);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const half = halfToFloatTable();
  const h = (at: number): number => half[dv.getUint16(at, true)];
  const nBlocks = elements / block.elements;
  switch (type) {
    case GGML_TYPE.F32:
      for (let i = 0; i < elements; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case GGML_TYPE.F16:
      for (let i = 0; i < elements; i++) out[i] = h(i * 2);
      break;
    case GGML_TYPE.BF16:
      for (let i = 0; i < elements; i++) out[i] = bf16ToFloat(dv.getUint16(i * 2, true));
      break;
    case GGML_TYPE.Q8_0:
      for (let b = 0; b < nBlocks; b++) {
        const at = b * 34;
        const d = h(at);
        for (let j = 0; j < 32; j++) out[b * 32 + j] = d * dv.getInt8(at + 2 + j);
      }
      break;
    case GGML_TYPE.Q4_0:
      for (let b = 0; b < nBlocks; b++) {
        const at = b * 18;
        const d = h(at);
        for (let j = 0; j < 16; j++) {
          const q = bytes[at + 2 + j];
          out[b * 32 + j] = ((q & 0xf) - 8) * d;
          out[b * 32 + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      break;
    case GGML_TYPE.Q4_1:
      for (let b = 0; b < nBlocks; b++) {
        const at = b * 20;
        const d = h(at);
        const m = h(at + 2);
        for (let j = 0; j < 16; j++) {
          const q = bytes[at + 4 + j];
          out[b * 32 + j] = fr(fr((q & 0xf) * d) + m);
          out[b * 32 + j + 16] = fr(fr((q >> 4) * d) + m);
        }
      }
      break;
    case GGML_TYPE.Q5_0:
    case GGML_TYPE.Q5_1: {
      const withMin = type === GGML_TYPE.Q5_1;
      const size = withMin ? 24 : 22;
      for (let b = 0; b < nBlocks; b++) {
        const at = b * size;
        const d = h(at);
        const m = withMin ? h(at + 2) : 0;
        const hiAt = at + (withMin ? 4 : 2);
        const qh = dv.getUint32(hiAt, true);
        for (let j = 0; j < 16; j++) {
          const q = bytes[hiAt + 4 + j];
          // Bit j of qh is the fifth bit of value j, bit j + 16 that of value j + 16.
          const x0 = (q & 0xf) | (((qh >>> j) & 1) << 4);
          const x1 = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
          if (withMin) {
            out[b * 32 + j] = fr(fr(x0 * d) + m);
            out[b * 32 + j + 16] = fr(fr(x1 * d) + m);
          } else {
            out[b * 32 + j] = (x0 - 16) * d;
            out[b * 32 + j + 16] = (x1 - 16) * d;
          }
        }
      }
      break;
    }
    case GGML_TYPE.Q2_K:
      for (let b = 0; b < nBlocks; b++) dequantizeQ2KBlock(bytes, b * 84, h(b * 84 + 80), h(b * 84 + 82), out, b * 256);
      break;
    case GGML_TYPE.Q3_K:
      for (let b = 0; b < nBlocks; b++) dequantizeQ3KBlock(bytes, b * 110, h(b * 110 + 108), out, b * 256);
      break;
    case GGML_TYPE.Q4_K:
      for (let b = 0; b < nBlocks; b++) dequantizeQ4KBlock(bytes, b * 144, h(b * 144), h(b * 144 + 2), out, b * 256);
      break;
    case GGML_TYPE.Q5_K:
      for (let b = 0; b < nBlocks; b++) dequantizeQ5KBlock(bytes, b * 176, h(b * 176), h(b * 176 + 2), out, b * 256);
      break;
    case GGML_TYPE.Q6_K:
      for (let b = 0; b < nBlocks; b++) dequantizeQ6KBlock(bytes, dv, b * 210, h(b * 210 + 208), out, b * 256);
      break;
    default:
      throw new Error(`dequantize: unsupported ggml type ${type}`);
  }
  return out;
}

/** The 6-bit scale and min of sub-block `sub` (0..7) of a Q4_K/Q5_K block, packed in the 12 bytes at `s`. */
function scaleMinK4(bytes: Uint8Array, s: number, sub: number): [number, number] {
  if (sub < 4) return [bytes[s + sub] & 63, bytes[s + sub + 4] & 63];
  return [(bytes[s + sub + 4] & 0xf) | ((bytes[s + sub - 4] >> 6) << 4), (bytes[s + sub + 4] >> 4) | ((bytes[s + sub] >> 6) << 4)];
}

/**
 * Q5_K: Q4_K's layout plus a fifth bit per value: bits 2g and 2g+1 of qh[l] belong to value l of sub-blocks 2g
 * and 2g+1.
 */
function dequantizeQ5KBlock(bytes: Uint8Array, at: number, d: number, dmin: number, out: Float32Array, o: number): void {
  const qh = at + 16;
  const qs = at + 48;
  for (let sub = 0; sub < 8; sub++) {
    const [sc, mn] = scaleMinK4(bytes, at + 4, sub);
    const scale = fr(d * sc);
    const shift = fr(dmin * mn);
    const group = qs + (sub >> 1) * 32;
    const high = (sub & 1) === 1;
    for (let l = 0; l < 32; l++) {
      const low = high ? bytes[group + l] >> 4 : bytes[group + l] & 0xf;
      const q = low | (((bytes[qh + l] >> sub) & 1) << 4);
      out[o + sub * 32 + l] = fr(fr(scale * q) - shift);
    }
  }
}

/**
 * Q2_K: 16 sub-blocks of 16, each with a 4-bit scale (low nibble) and 4-bit min (high nibble); 2-bit values, four
 * per byte: byte l of each 32-byte group holds value l of four sub-block rows (shifts 0, 2, 4, 6).
 */
function dequantizeQ2KBlock(bytes: Uint8Array, at: number, d: number, dmin: number, out: Float32Array, o: number): void {
  const qs = at + 16;
  let e = o;
  let is = 0;
  for (let half = 0; half < 2; half++) {
    const q = qs + half * 32;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let part = 0; part < 2; part++) {
        const sc = bytes[at + is++];
        const dl = fr(d * (sc & 0xf));
        const ml = fr(dmin * (sc >> 4));
        for (let l = 0; l < 16; l++) out[e++] = fr(fr(dl * ((bytes[q + part * 16 + l] >> shift) & 3)) - ml);
      }
    }
  }
}

/**
 * Q3_K: 16 sub-blocks of 16 with 6-bit scales (offset 32) packed in 12 bytes; 2 low bits per value as in Q2_K and
 * a third bit in hmask (value l of row r: bit r of hmask[l]), which when clear subtracts 4.
 */
function dequantizeQ3KBlock(bytes: Uint8Array, at: number, d: number, out: Float32Array, o: number): void {
  const hm = at;
  const qs = at + 32;
  const s = at + 96;
  const scales = new Array<number>(16);
  for (let i = 0; i < 16; i++) {
    // Low 4 bits: byte i of the first 8 (low nibble for i < 8, high nibble for i ≥ 8); high 2 bits from bytes 8..11.
    const low = i < 8 ? bytes[s + i] & 0xf : bytes[s + i - 8] >> 4;
    const highBits = (bytes[s + 8 + (i % 4)] >> (2 * Math.floor(i / 4))) & 3;
    scales[i] = (low | (highBits << 4)) - 32;
  }
  let e = o;
  let is = 0;
  let bit = 0;
  for (let half = 0; half < 2; half++) {
    const q = qs + half * 32;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let part = 0; part < 2; part++) {
        const dl = fr(d * scales[is++]);
        for (let l = 0; l < 16; l++) {
          const k = part * 16 + l;
          const v = ((bytes[q + k] >> shift) & 3) - ((bytes[hm + k] >> bit) & 1 ? 0 : 4);
          out[e++] = fr(dl * v);
        }
      }
      bit++;
    }
  }
}

/**
 * Q4_K: 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min packed into 12 bytes; 4-bit values in 4
 * groups of 32 bytes, low nibbles for sub-block 2g and high nibbles for 2g+1. y = d·sc·q − dmin·m.
 */
function dequantizeQ4KBlock(bytes: Uint8Array, at: number, d: number, dmin: number, out: Float32Array, o: number): void {
  const s = at + 4;
  const qs = at + 16;
  for (let sub = 0; sub < 8; sub++) {
    let sc: number;
    let mn: number;
    if (sub < 4) {
      sc = bytes[s + sub] & 63;
      mn = bytes[s + sub + 4] & 63;
    } else {
      sc = (bytes[s + sub + 4] & 0xf) | ((bytes[s + sub - 4] >> 6) << 4);
      mn = (bytes[s + sub + 4] >> 4) | ((bytes[s + sub] >> 6) << 4);
    }
    const scale = fr(d * sc);
    const shift = fr(dmin * mn);
    const group = qs + (sub >> 1) * 32;
    const high = (sub & 1) === 1;
    for (let l = 0; l < 32; l++) {
      const q = high ? bytes[group + l] >> 4 : bytes[group + l] & 0xf;
      out[o + sub * 32 + l] = fr(fr(scale * q) - shift);
    }
  }
}

/**
 * Q6_K: two halves of 128 values; each half takes 64 bytes of low nibbles (ql) and 32 bytes of 2-bit highs
 * (qh); 16 int8 scales, one per 16 values; y = d·scale·(q − 32).
 */
function dequantizeQ6KBlock(bytes: Uint8Array, dv: DataView, at: number, d: number, out: Float32Array, o: number): void {
  for (let half = 0; half < 2; half++) {
    const ql = at + half * 64;
    const qh = at + 128 + half * 32;
    const base = o + half * 128;
    for (let l = 0; l < 32; l++) {
      const hi = bytes[qh + l];
      const q = [
        ((bytes[ql + l] & 0xf) | ((hi & 3) << 4)) - 32,
        ((bytes[ql + l + 32] & 0xf) | (((hi >> 2) & 3) << 4)) - 32,
        ((bytes[ql + l] >> 4) | (((hi >> 4) & 3) << 4)) - 32,
        ((bytes[ql + l + 32] >> 4) | (((hi >> 6) & 3) << 4)) - 32,
      ];
      for (let k = 0; k < 4; k++) {
        const e = half * 128 + k * 32 + l;
        const scale = fr(d * dv.getInt8(at + 192 + (e >> 4)));
        out[base + k * 32 + l] = fr(scale * q[k]);
      }
    }
  }
}
