/** float32 → the ggml types this project writes: F32, F16 and Q8_0. */
import { GGML_TYPE } from "./constants.js";
import { floatToHalf } from "./half.js";

const fr = Math.fround;

export function encodeTensor(type: number, data: Float32Array): Uint8Array {
  switch (type) {
    case GGML_TYPE.F32: {
      const out = new Uint8Array(data.length * 4);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
      return out;
    }
    case GGML_TYPE.F16: {
      const out = new Uint8Array(data.length * 2);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < data.length; i++) dv.setUint16(i * 2, floatToHalf(data[i]), true);
      return out;
    }
    case GGML_TYPE.Q8_0:
      return quantizeQ8_0(data);
    default:
      throw new Error(`encodeTensor: writing ggml type ${type} is not supported`);
  }
}

/**
 * Q8_0 as ggml's reference quantiser does it: per block of 32, d = max|x|/127, q = round-half-away(x/d) with the
 * division done as a multiplication by 1/d in float32; d is stored as binary16.
 */
export function quantizeQ8_0(data: Float32Array): Uint8Array {
  if (data.length % 32 !== 0) throw new Error(`Q8_0 needs a multiple of 32 values, got ${data.length}`);
  const nBlocks = data.length / 32;
  const out = new Uint8Array(nBlocks * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nBlocks; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(data[b * 32 + j]));
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(b * 34, floatToHalf(d), true);
    for (let j = 0; j < 32; j++) {
      const v = fr(data[b * 32 + j] * id);
      dv.setInt8(b * 34 + 2 + j, Math.sign(v) * Math.round(Math.abs(v)));
    }
  }
  return out;
}
