/** Datasets: the Problem type, loaders for the named benchmarks and for any JSONL / JSON / Parquet / hf:// file. */
export type { Problem, ProblemMeta } from "./problem.js";
export type { DatasetContents, DatasetContext, DatasetLoader, SkippedRow } from "./types.js";
export { loadDataset, loadDatasetSpec, type LoadDatasetOptions, type LoadedDataset } from "./load.js";
export {
  registerBuiltinDatasets,
  registerDataset,
  registerDatasetAlias,
  canonicalDatasetName,
  getDatasetLoader,
  datasetNames,
  datasetAliases,
  requireDatasetLoader,
} from "./registry.js";
export { resolveDataDir, dataCacheDir, type DataDirChoice } from "./datadir.js";
export { fetchBenchmarks, fetchableDatasets, type FetchOptions, type FetchedFile } from "./fetch.js";
export { benchmarkFiles, type BenchmarkFile, type HubFile } from "./fetch-sources.js";
export { summariseDataset, type DatasetSummary } from "./inspect.js";
export {
  rowToProblem,
  normaliseAnswer,
  numberToAnswer,
  stripZeroPadding,
  gsm8kFinalAnswer,
  type FieldMapping,
  type AnswerFormat,
  type RowConversion,
} from "./fields.js";
export {
  readRows,
  readJsonlRowsSync,
  detectFormat,
  firstInvalidUtf8Offset,
  skippedRowsWarning,
  type RawRow,
  type RowResult,
  type RecordFormat,
} from "./records.js";
export { locateJsonError, malformedJsonError, parseJsonText, type JsonErrorLocation } from "./json-error.js";
export { ProblemCollector } from "./collect.js";
export { parseHfUrl, hfCacheDir, hfCachePath, hfEndpoint, hfResolveUrl, resolveHfFile, isHfUrl, type HfRef } from "./hf.js";
export { builtinDatasets, mathTrainSubjects } from "./builtin.js";
