/**
 * GGUF (version 3) constants from the public spec (ggml's docs/gguf.md): metadata value types, the ggml tensor
 * types this project reads or writes, and their block layouts.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_VERSION = 3;
/** Tensor data offsets are multiples of `general.alignment`, 32 when the file does not say. */
export const DEFAULT_ALIGNMENT = 32;

/** Metadata value types (the uint32 written before each value). */
export const VALUE_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type ValueTypeName = keyof typeof VALUE_TYPE;

/** ggml tensor types: the ids are fixed by the format. */
export const GGML_TYPE = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  BF16: 30,
} as const;
export type GgmlTypeName = keyof typeof GGML_TYPE;

/** Every ggml type id the format defines, by name, so an unsupported tensor's error can name its type. */
const ALL_TYPE_NAMES: Record<number, string> = {
  0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K",
  13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
  22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0",
  35: "TQ2_0", 39: "MXFP4",
};

export function ggmlTypeName(type: number): string {
  return ALL_TYPE_NAMES[type] ?? `unknown type ${type}`;
}

/** Elements per block and bytes per block of each supported type. */
export const BLOCK: Record<number, { elements: number; bytes: number }> = {
  [GGML_TYPE.F32]: { elements: 1, bytes: 4 },
  [GGML_TYPE.F16]: { elements: 1, bytes: 2 },
  [GGML_TYPE.BF16]: { elements: 1, bytes: 2 },
  // d (f16), 32 × int8
  [GGML_TYPE.Q8_0]: { elements: 32, bytes: 34 },
  // d (f16), 16 bytes of 4-bit values
  [GGML_TYPE.Q4_0]: { elements: 32, bytes: 18 },
  // d, m (f16), 16 bytes of 4-bit values
  [GGML_TYPE.Q4_1]: { elements: 32, bytes: 20 },
  // d (f16), 32 high bits, 16 bytes of low 4 bits
  [GGML_TYPE.Q5_0]: { elements: 32, bytes: 22 },
  // d, m (f16), 32 high bits, 16 bytes of low 4 bits
  [GGML_TYPE.Q5_1]: { elements: 32, bytes: 24 },
  // 16 bytes of 4-bit scale|min pairs, 64 bytes of 2-bit values, d, dmin (f16)
  [GGML_TYPE.Q2_K]: { elements: 256, bytes: 84 },
  // 32 bytes of high bits, 64 bytes of 2-bit values, 12 bytes of 6-bit scales, d (f16)
  [GGML_TYPE.Q3_K]: { elements: 256, bytes: 110 },
  // d, dmin (f16), 12 bytes of 6-bit scales and mins, 128 bytes of 4-bit values
  [GGML_TYPE.Q4_K]: { elements: 256, bytes: 144 },
  // d, dmin (f16), 12 bytes of 6-bit scales and mins, 32 bytes of high bits, 128 bytes of 4-bit values
  [GGML_TYPE.Q5_K]: { elements: 256, bytes: 176 },
  // 128 bytes low 4 bits, 64 bytes high 2 bits, 16 int8 scales, d (f16)
  [GGML_TYPE.Q6_K]: { elements: 256, bytes: 210 },
};

/** general.file_type values ("mostly" this type) for the files we write. */
export const FILE_TYPE = { f32: 0, f16: 1, q8_0: 7 } as const;
export type OutputType = keyof typeof FILE_TYPE;
export const OUTPUT_TYPES = Object.keys(FILE_TYPE) as OutputType[];
/** What `convert` writes when no type is asked for: half the size of F32, as llama.cpp's own converter defaults to. */
export const DEFAULT_OUTPUT_TYPE: OutputType = "f16";

/** tokenizer.ggml.token_type values. */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
