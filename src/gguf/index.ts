/** GGUF files in and out: reading, dequantising, and converting to and from HF model folders. */
export { writeGgufFromFolder, type WriteGgufOptions } from "./from-folder.js";
export { OUTPUT_TYPES, type OutputType } from "./constants.js";
export { readGguf, readTensorBytes, type GgufFile, type TensorInfo } from "./read.js";
export { dequantize } from "./dequantize.js";
