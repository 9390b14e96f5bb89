/** One problem with a verifiable answer, whatever benchmark or file it came from. */
export interface Problem {
  /** Stable within its dataset (e.g. `test/precalculus/807.json`, `gsm8k-test-12`, `world-L3-000017`). */
  id: string;
  question: string;
  /** The reference answer, normalised to a string (AIME's "025" → "25", AMC's 27.0 → "27", GSM8K's "#### 1,234" → "1234"). */
  answer: string;
  meta: ProblemMeta;
}

export interface ProblemMeta {
  /** Difficulty level where the dataset has one (MATH 1–5, the world 1–5). */
  level?: number;
  subject?: string;
  /** Dataset name (`math500`, `gsm8k`, …) or the file path it was read from. */
  source: string;
}
