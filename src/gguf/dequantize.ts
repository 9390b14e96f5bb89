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
    case GGML_TYPE.Q4_K:
      for (let b = 0; b < nBlocks; b++) dequantizeQ4KBlock(bytes, b * 144, h(b * 144), h(b * 144 + 2), out, b * 256);
      break;
    case GGML_TYPE.Q6_K:
      for (let b = 0; b < nBlocks; b++) dequantizeQ6KBlock(bytes, dv, b * 210, h(b * 210 + 208), out, b * 256);
      break;
    default:
      throw new Error(`dequantize: unsupported ggml type ${type}`);
  }
  return out;
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
