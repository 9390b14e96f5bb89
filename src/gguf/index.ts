/** GGUF files in and out: reading, dequantising, and converting to and from HF model folders. */
export { writeGgufFromFolder, type WriteGgufOptions } from "./from-folder.js";
export { OUTPUT_TYPES, type OutputType } from "./constants.js";
export { readGguf, readTensorBytes, type GgufFile, type TensorInfo } from "./read.js";
export { dequantize } from "./dequantize.js";
export { convertGgufToFolder, type ConvertToFolderOptions, type ConvertedFolder } from "./to-folder.js";
export { convertModel, type ConvertOptions, type ConvertResult } from "./convert.js";
export { DEFAULT_OUTPUT_TYPE } from "./constants.js";
