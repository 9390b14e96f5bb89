/**
 * The benchmark files `tokensqueeze data fetch` knows: for each file of the data directory, its sha256 and size
 * (computed from the project's copy, whose provenance shared/data/SOURCES.md records) and, where one is known, a
 * public Hugging Face dataset file holding the same bytes. The checksum is what decides: a hub copy that was
 * changed upstream is refused, never silently used.
 *
 * Several files have no known hub copy with these exact bytes: aime25 and the per-subject MATH train files were
 * derived for this project, and the AIME 2024 / AMC 2023 files were taken from the Qwen2.5-Math repository on
 * GitHub. Those are fetched only from a mirror (`--mirror org/name`), a dataset repository laid out like the
 * data directory.
 */

export interface HubFile {
  /** `org/name` of a Hugging Face dataset repository. */
  repo: string;
  /** A commit where one was recorded, else a branch. */
  revision: string;
  /** Path of the file inside that repository. */
  path: string;
}

export interface BenchmarkFile {
  sha256: string;
  bytes: number;
  /** Where the same bytes are published on the hub, when known. */
  hub?: HubFile;
}

/** Keyed by the path inside the data directory, as the named datasets' `files` list them. */
export const benchmarkFiles: Record<string, BenchmarkFile> = {
  "math500/test.jsonl": {
    sha256: "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
    bytes: 446564,
    // PRM800K's test split as uploaded by Hugging Face H4 (same size; the checksum confirms the bytes).
    hub: { repo: "HuggingFaceH4/MATH-500", revision: "ff5b20257d8185524591543f8ff5993951537bb8", path: "test.jsonl" },
  },
  "gsm8k/test.jsonl": {
    sha256: "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
    bytes: 749738,
    // openai/gsm8k on the hub now holds Parquet only; this repository re-publishes OpenAI's original JSONL.
    hub: { repo: "DaertML/gsm8k-jsonl", revision: "main", path: "test.jsonl" },
  },
  "gsm8k/train.jsonl": {
    sha256: "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465",
    bytes: 4166206,
    hub: { repo: "DaertML/gsm8k-jsonl", revision: "main", path: "train.jsonl" },
  },
  "aime24/test.jsonl": { sha256: "af2b8bd2aa911b6333ad0df32f3ca05c7ae8ed10f1731f4372c8ae26990bf7ac", bytes: 156944 },
  "aime25/test.jsonl": { sha256: "8e052b06be0763612deac31e19bd3c6af78cb084a3208d08d9ac47afe8acaa93", bytes: 21094 },
  "amc23/test.jsonl": { sha256: "43707e1ca784602d8479de24ee8ce36609dbebc46dd152b0b12a46611aa898a4", bytes: 27631 },
  "math_train/algebra.jsonl": { sha256: "09afba427f437dcfa5bf25fa8f371629a5e9aaf56dbbd598481bfa7c3dce1d16", bytes: 1144618 },
  "math_train/counting_and_probability.jsonl": {
    sha256: "b333318eabb0e479e5697eaa44f4abbc72ce55d8352981566de88ebdc7642459",
    bytes: 766487,
  },
  "math_train/geometry.jsonl": { sha256: "3871c2f8c55b016cd1e63acad111afb4d30b5e15c46f6ab759a8dd1d4f443f77", bytes: 1200501 },
  "math_train/intermediate_algebra.jsonl": {
    sha256: "2ff8a1e03b2ab0c507de03560943679a2faf507b322aab06f2b3fb70e91fbe69",
    bytes: 1349964,
  },
  "math_train/number_theory.jsonl": { sha256: "7c9b080c6eeb03c6fa0cbc431ead6cf2f1ce35465726fcc34f7ceea04e66c3db", bytes: 694051 },
  "math_train/prealgebra.jsonl": { sha256: "d64807cc782e1c29f1d6e525f4d355ee19d2477d2de54cf2541e051268be2749", bytes: 852655 },
  "math_train/precalculus.jsonl": { sha256: "dc5de192b5b754c959e16eea4dcbb1690e2ab8a72ea1cb3d6a0c8bc815342d60", bytes: 959353 },
};
