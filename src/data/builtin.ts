/**
 * The named benchmark datasets, read from the data directory in the exact schemas documented in
 * shared/data/SOURCES.md.
 */
import { join } from "node:path";
import { ProblemCollector } from "./collect.js";
import type { RowConversion } from "./fields.js";
import type { RawRow } from "./records.js";
import type { DatasetContext, DatasetLoader } from "./types.js";

const mathFields = { question: "problem", answer: "answer", id: "unique_id", level: "level", subject: "subject" };

export const mathTrainSubjects = [
  "algebra",
  "counting_and_probability",
  "geometry",
  "intermediate_algebra",
  "number_theory",
  "precalculus",
  "prealgebra",
] as const;

/**
 * Two MATH train solutions write `\boxed{}` with nothing inside, so their extracted answer is empty. Both are
 * multiple-choice questions whose correct choice is (A) 0: n!+k is divisible by k for 1 < k < n, and every
 * P+n has a prime factor ≤ 59 that divides P. Applied only while the source answer is empty.
 */
const mathTrainErrata: Record<string, string> = {
  "train/number_theory/7115.json": "0",
  "train/number_theory/7117.json": "0",
};

function patchMathTrain(row: RawRow): string | undefined {
  const id = row.value.unique_id;
  if (typeof id !== "string" || !(id in mathTrainErrata) || row.value.answer !== "") return undefined;
  row.value.answer = mathTrainErrata[id];
  return `${row.file}:${row.line}: ${id}: the source answer is empty (its solution has an empty \\boxed{}); using "${mathTrainErrata[id]}" (choice A)`;
}

function fileDataset(
  description: string,
  files: string[],
  conv: RowConversion,
  patchRow?: (row: RawRow) => string | undefined,
): DatasetLoader {
  return {
    description,
    usesDataDir: true,
    files,
    async load(ctx: DatasetContext) {
      const collector = new ProblemCollector(ctx.skipBadRows);
      for (const f of files) await collector.addFile(join(ctx.dataDir!, f), conv, { format: "jsonl", patchRow });
      return collector.contents();
    },
  };
}

export const builtinDatasets: Record<string, DatasetLoader> = {
  math500: fileDataset("MATH-500 (PRM800K test split), 500 problems, levels 1-5", ["math500/test.jsonl"], {
    source: "math500",
    mapping: mathFields,
  }),
  "math-train": fileDataset(
    "MATH train split, 7500 problems in 7 per-subject files",
    mathTrainSubjects.map((s) => `math_train/${s}.jsonl`),
    { source: "math-train", mapping: mathFields },
    patchMathTrain,
  ),
  aime24: fileDataset("AIME 2024 I + II, 30 problems (zero-padded answers normalised)", ["aime24/test.jsonl"], {
    source: "aime24",
    mapping: { question: "problem", answer: "answer", id: "id" },
    idPrefix: "aime24-",
    stripZeroPadding: true,
  }),
  aime25: fileDataset("AIME 2025 I + II, 30 problems", ["aime25/test.jsonl"], {
    source: "aime25",
    mapping: { question: "problem", answer: "answer", id: "id" },
  }),
  amc23: fileDataset("AMC 2023 (12A/12B), 40 numeric-answer problems", ["amc23/test.jsonl"], {
    source: "amc23",
    mapping: { question: "problem", answer: "answer", id: "id" },
    idPrefix: "amc23-",
  }),
  gsm8k: fileDataset("GSM8K test, 1319 problems (answers after ####)", ["gsm8k/test.jsonl"], {
    source: "gsm8k",
    mapping: { question: "question", answer: "answer" },
    answerFormat: "gsm8k",
    lineIdPrefix: "gsm8k-test-",
  }),
  "gsm8k-train": fileDataset("GSM8K train, 7473 problems (answers after ####)", ["gsm8k/train.jsonl"], {
    source: "gsm8k-train",
    mapping: { question: "question", answer: "answer" },
    answerFormat: "gsm8k",
    lineIdPrefix: "gsm8k-train-",
  }),
};
