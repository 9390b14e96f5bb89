/**
 * Turning one raw row into a `Problem`: reading mapped fields with type checks, and normalising reference
 * answers to strings (AIME's "025" → "25", AMC's 27.0 → "27", GSM8K's "… #### 1,234" → "1234").
 * Every failure is an InputError naming file, line and field.
 */
import { InputError } from "../util/errors.js";
import type { Problem } from "./problem.js";
import type { RawRow } from "./records.js";

/** Which fields of a row hold what. Unset entries use the defaults listed on each. */
export interface FieldMapping {
  /** Default: `question`, else `problem`. */
  question?: string;
  /** Default: `answer`. */
  answer?: string;
  /** Default: `id`, else `unique_id`, else the row's line number. */
  id?: string;
  /** Default: `level` when the row has it. */
  level?: string;
  /** Default: `subject` when the row has it. */
  subject?: string;
}

/** How a reference answer is written in the file. */
export type AnswerFormat =
  /** The value itself (numbers are written without a trailing ".0"). */
  | "plain"
  /** A worked solution ending in `#### N` (GSM8K): N without thousands separators. */
  | "gsm8k"
  /** `gsm8k` when the text ends in a `#### N` line, else `plain`. */
  | "auto";

export interface RowConversion {
  /** `meta.source` of every problem. */
  source: string;
  mapping?: FieldMapping;
  answerFormat?: AnswerFormat;
  /** Prefix for ids built from the line number, e.g. `gsm8k-test-` → `gsm8k-test-12`. */
  lineIdPrefix?: string;
  /** Prefix for ids read from the id field, e.g. `aime24-` → `aime24-60`. */
  idPrefix?: string;
  /** Strip zero padding from all-digit answers (AIME's "025"). */
  stripZeroPadding?: boolean;
}

/** Builds a Problem from a row; throws InputError (file, line, field) when a field is missing or mistyped. */
export function rowToProblem(row: RawRow, conv: RowConversion): Problem {
  const m = conv.mapping ?? {};
  const where = (field: string) => ({ file: row.file, line: row.line, field });

  const qField = m.question ?? firstPresent(row.value, ["question", "problem"]) ?? "question";
  const question = row.value[qField];
  if (question === undefined || question === null) {
    const hint = m.question === undefined ? ` (no "question" or "problem" field; map one with --question-field)` : "";
    throw new InputError(where(qField), `missing question${hint}`);
  }
  if (typeof question !== "string") throw new InputError(where(qField), `expected a string question, got ${describe(question)}`);
  if (question.trim() === "") throw new InputError(where(qField), "empty question");

  const aField = m.answer ?? "answer";
  const answer = normaliseAnswer(row.value[aField], where(aField), conv);

  const idField = m.id ?? firstPresent(row.value, ["id", "unique_id"]);
  let id: string;
  if (idField === undefined) {
    id = `${conv.lineIdPrefix ?? ""}${row.line}`;
  } else {
    const raw = row.value[idField];
    if (typeof raw === "string" && raw.trim() !== "") id = raw;
    else if (typeof raw === "number" && Number.isFinite(raw)) id = String(raw);
    else if (typeof raw === "bigint") id = raw.toString();
    else if (raw === undefined || raw === null) throw new InputError(where(idField), "missing id");
    else throw new InputError(where(idField), `expected a string or number id, got ${describe(raw)}`);
    id = `${conv.idPrefix ?? ""}${id}`;
  }

  const problem: Problem = { id, question, answer, meta: { source: conv.source } };
  const levelField = m.level ?? "level";
  const level = readLevel(row.value[levelField], where(levelField), m.level !== undefined);
  if (level !== undefined) problem.meta.level = level;
  const subjectField = m.subject ?? "subject";
  const subject = row.value[subjectField];
  if (subject !== undefined && subject !== null) {
    if (typeof subject !== "string") throw new InputError(where(subjectField), `expected a string subject, got ${describe(subject)}`);
    if (subject.trim() !== "") problem.meta.subject = subject;
  } else if (m.subject !== undefined && subject === undefined) {
    throw new InputError(where(subjectField), "missing subject (the field was named with --subject-field)");
  }
  return problem;
}

function firstPresent(value: Record<string, unknown>, fields: string[]): string | undefined {
  return fields.find((f) => value[f] !== undefined);
}

/** Normalises a reference answer to a non-empty string; throws InputError for a missing or mistyped one. */
export function normaliseAnswer(
  value: unknown,
  loc: { file: string; line?: number; field: string },
  conv: Pick<RowConversion, "answerFormat" | "stripZeroPadding"> = {},
): string {
  let answer: string;
  if (value === undefined || value === null) {
    throw new InputError(loc, "missing answer");
  } else if (typeof value === "string") {
    answer = value;
    const format = conv.answerFormat ?? "plain";
    if (format !== "plain") {
      const extracted = gsm8kFinalAnswer(value);
      if (extracted !== undefined) answer = extracted;
      else if (format === "gsm8k") throw new InputError(loc, `expected a solution ending in "#### <answer>", got ${describe(value)}`);
    }
    answer = answer.trim();
  } else if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new InputError(loc, `expected a finite number, got ${String(value)}`);
    answer = numberToAnswer(value);
  } else if (typeof value === "bigint") {
    answer = value.toString();
  } else {
    throw new InputError(loc, `expected a string or number answer, got ${describe(value)}`);
  }
  if (conv.stripZeroPadding) answer = stripZeroPadding(answer);
  if (answer === "") throw new InputError(loc, "empty answer");
  return answer;
}

/** 27 → "27", 27.0 → "27", 0.5 → "0.5", -1.0 → "-1" (JSON floats that are integral lose their ".0"). */
export function numberToAnswer(n: number): string {
  return Number.isInteger(n) ? n.toFixed(0) : String(n);
}

/** "025" → "25", "000" → "0"; anything not all digits is unchanged. */
export function stripZeroPadding(s: string): string {
  return /^\d+$/.test(s) ? s.replace(/^0+(?=\d)/, "") : s;
}

/**
 * The final answer of a GSM8K-style solution: the text after the last `####`, with thousands separators and a
 * leading `$` removed ("#### 1,234" → "1234"). Undefined when there is no `####` line.
 */
export function gsm8kFinalAnswer(solution: string): string | undefined {
  const m = /(?:^|\n)\s*####\s*([^\n]*?)\s*$/.exec(solution);
  if (!m) return undefined;
  let a = m[1].trim().replace(/^\$/, "");
  if (/^-?[\d,]+(\.\d+)?$/.test(a)) a = a.replace(/,/g, "");
  return a;
}

function readLevel(value: unknown, loc: { file: string; line: number; field: string }, explicit: boolean): number | undefined {
  if (value === undefined) {
    if (explicit) throw new InputError(loc, "missing level (the field was named with --level-field)");
    return undefined;
  }
  if (value === null) return undefined;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string") {
    // MATH writes "Level 3"; its two unlevelled geometry problems say "Level ?".
    const m = /^\s*(?:level\s*)?(\d+|\?)\s*$/i.exec(value);
    if (m) return m[1] === "?" ? undefined : Number(m[1]);
  }
  throw new InputError(loc, `expected an integer level (or "Level N"), got ${describe(value)}`);
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 37) + "..." : v)}`;
  return `${typeof v} ${String(v)}`;
}
