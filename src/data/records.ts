/**
 * Reading raw rows from JSONL, JSON (an array, or an object with a `data` array) and Parquet files.
 *
 * Rows come out one at a time, each either a record with its 1-based line (JSONL, JSON) or row number (Parquet),
 * or the located error that row raised, so a caller can stop at the first bad row or skip and count bad rows.
 * Problems with the file as a whole (missing, empty, unreadable) are thrown.
 *
 * JSONL is streamed: lines are split on the byte 0x0A (which never occurs inside a multi-byte UTF-8 sequence)
 * and each line is decoded with a fatal UTF-8 decoder, so invalid bytes are reported with their line.
 */
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { InputError, UserError } from "../util/errors.js";
import { malformedJsonError } from "./json-error.js";

export type RecordFormat = "jsonl" | "json" | "parquet";

export interface RawRow {
  file: string;
  /** 1-based line in JSONL / JSON files, 1-based row number in Parquet files. */
  line: number;
  value: Record<string, unknown>;
}

export type RowResult = { ok: true; row: RawRow } | { ok: false; error: InputError };

/** Picks the reader from the extension, else from the first bytes (Parquet magic, `[`, otherwise JSONL). */
export async function detectFormat(file: string): Promise<RecordFormat> {
  const lower = file.toLowerCase();
  if (lower.endsWith(".parquet")) return "parquet";
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  const head = await readHead(file, 4096);
  if (head.subarray(0, 4).toString("latin1") === "PAR1") return "parquet";
  if (lower.endsWith(".json")) return "json";
  const first = head.toString("latin1").replace(/^\uFEFF|^\xEF\xBB\xBF/, "").trimStart()[0];
  return first === "[" ? "json" : "jsonl";
}

async function readHead(file: string, n: number): Promise<Buffer> {
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export function assertReadableFile(file: string): void {
  if (!existsSync(file)) throw new UserError(`file not found: ${file}`);
  if (!statSync(file).isFile()) throw new UserError(`not a file: ${file}`);
}

/** All rows of a data file; throws InputError for an empty file and UserError for a missing one. */
export async function* readRows(file: string, format?: RecordFormat): AsyncGenerator<RowResult> {
  assertReadableFile(file);
  const fmt = format ?? (await detectFormat(file));
  if (fmt === "jsonl") yield* readJsonlRows(file);
  else if (fmt === "json") yield* readJsonRows(file);
  else yield* readParquetRows(file);
}

// ---------------------------------------------------------------------------------------------------------
// JSONL

async function* byteLines(file: string): AsyncGenerator<{ line: number; bytes: Buffer }> {
  let rest: Buffer = Buffer.alloc(0);
  let line = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf(10, start)) !== -1) {
      line++;
      yield { line, bytes: buf.subarray(start, nl) };
      start = nl + 1;
    }
    rest = buf.subarray(start);
  }
  if (rest.length > 0) yield { line: line + 1, bytes: rest };
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });
const lossyUtf8 = new TextDecoder("utf-8");

async function* readJsonlRows(file: string): AsyncGenerator<RowResult> {
  let sawContent = false;
  for await (const { line, bytes } of byteLines(file)) {
    const result = jsonlLine(file, line, bytes);
    if (result === null) continue;
    sawContent = true;
    yield result;
  }
  if (!sawContent) throw new InputError({ file, line: 1 }, "empty file: no rows");
}

/**
 * The rows of a JSONL file, read at once (for callers that are not async, e.g. the SFT data reader): the same
 * rows, errors and empty-file check as `readRows(file, "jsonl")`.
 */
export function readJsonlRowsSync(file: string): RowResult[] {
  assertReadableFile(file);
  const buf = readFileSync(file);
  const out: RowResult[] = [];
  let start = 0;
  let line = 0;
  while (start < buf.length) {
    let nl = buf.indexOf(10, start);
    if (nl === -1) nl = buf.length;
    line++;
    const result = jsonlLine(file, line, buf.subarray(start, nl));
    if (result !== null) out.push(result);
    start = nl + 1;
  }
  if (out.length === 0) throw new InputError({ file, line: 1 }, "empty file: no rows");
  return out;
}

/** One JSONL line (its bytes, without the newline) as a row or its located error; null for a blank line. */
function jsonlLine(file: string, line: number, bytes: Buffer): RowResult | null {
  let text: string;
  try {
    // The decoder drops a byte-order mark, which can only appear on line 1.
    text = fatalUtf8.decode(bytes);
  } catch {
    return { ok: false, error: notUtf8Error(file, line, bytes) };
  }
  if (text.endsWith("\r")) text = text.slice(0, -1);
  if (text.trim() === "") return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: malformedJsonError(file, line, text, err, 1) };
  }
  return rowResult(file, line, value);
}

/** A warning about rows `--skip-bad-rows` skipped in `source`: their count and the first `show` messages. */
export function skippedRowsWarning(source: string, skipped: ReadonlyArray<{ message: string }>, show = 10): string {
  if (skipped.length === 0) return "";
  const lines = [`warning: skipped ${skipped.length} bad row(s) in ${source}:`, ...skipped.slice(0, show).map((s) => `  ${s.message}`)];
  if (skipped.length > show) lines.push(`  … and ${skipped.length - show} more`);
  return lines.join("\n") + "\n";
}

/** Names the field whose text holds the invalid bytes when the rest of the row is readable. */
function notUtf8Error(file: string, line: number, bytes: Buffer): InputError {
  const offset = firstInvalidUtf8Offset(bytes);
  const lossy = lossyUtf8.decode(bytes);
  let field: string | undefined;
  try {
    const value: unknown = JSON.parse(lossy);
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      field = Object.entries(value).find(([, v]) => JSON.stringify(v).includes("\uFFFD"))?.[0];
    }
  } catch {
    // Not a whole JSON row (e.g. one line of a multi-line JSON file): take the last key before the bad bytes.
    const before = lossy.slice(0, Math.max(0, lossy.indexOf("\uFFFD")));
    const keys = [...before.matchAll(/"((?:[^"\\]|\\.)*)"\s*:/g)];
    field = keys.length > 0 ? keys[keys.length - 1][1] : undefined;
  }
  return new InputError({ file, line, field }, `not valid UTF-8 (invalid byte at byte ${offset + 1} of the line); convert the file to UTF-8`);
}

/** Offset of the first byte that starts an invalid UTF-8 sequence (bytes.length when all are valid). */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return bytes.length;
}

function rowResult(file: string, line: number, value: unknown): RowResult {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const got = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    return { ok: false, error: new InputError({ file, line }, `expected a JSON object per row, got ${got}`) };
  }
  return { ok: true, row: { file, line, value: value as Record<string, unknown> } };
}

// ---------------------------------------------------------------------------------------------------------
// JSON (whole file: an array of rows, or {"data": [...]})

async function* readJsonRows(file: string): AsyncGenerator<RowResult> {
  const bytes = readFileSync(file);
  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch {
    // Find the first line with invalid bytes so the message points at it.
    for await (const { line, bytes: lineBytes } of byteLines(file)) {
      try {
        fatalUtf8.decode(lineBytes);
      } catch {
        throw notUtf8Error(file, line, lineBytes);
      }
    }
    throw new InputError({ file }, "not valid UTF-8");
  }
  if (text.trim() === "") throw new InputError({ file, line: 1 }, "empty file: no rows");

  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // A .json file that is really JSON Lines (several objects, one per line) is read as such.
    if (looksLikeJsonLines(text)) {
      yield* readJsonlRows(file);
      return;
    }
    const depth = text.trimStart().startsWith("[") ? 2 : 3;
    throw malformedJsonError(file, 1, text, err, depth);
  }

  let rows: unknown[];
  let arrayStart: number;
  if (Array.isArray(doc)) {
    rows = doc;
    arrayStart = text.indexOf("[");
  } else if (doc !== null && typeof doc === "object" && Array.isArray((doc as { data?: unknown }).data)) {
    rows = (doc as { data: unknown[] }).data;
    arrayStart = findDataArray(text);
  } else {
    throw new InputError({ file, line: 1 }, `expected a JSON array of rows or an object with a "data" array`);
  }
  if (rows.length === 0) throw new InputError({ file, line: lineAt(text, arrayStart) }, "empty file: no rows");

  const starts = elementOffsets(text, arrayStart);
  const lines = linesOf(text, starts);
  for (let i = 0; i < rows.length; i++) yield rowResult(file, lines[i] ?? 1, rows[i]);
}

function looksLikeJsonLines(text: string): boolean {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  return lines.length > 1 && lines.every((l) => l.trimStart().startsWith("{"));
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Lines of ascending offsets, counted in one pass. */
function linesOf(text: string, offsets: number[]): number[] {
  const out: number[] = [];
  let line = 1;
  let pos = 0;
  for (const off of offsets) {
    for (; pos < off; pos++) if (text.charCodeAt(pos) === 10) line++;
    out.push(line);
  }
  return out;
}

// A minimal scanner over text already known to be valid JSON: it finds where values start and end without
// building them, which is all that is needed to give every array element its line number.
function skipWs(text: string, i: number): number {
  while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  return i;
}

function skipString(text: string, i: number): number {
  for (i++; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i + 1;
  }
  return i;
}

function skipValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c !== "[" && c !== "{") {
    while (i < text.length && !",]} \n\r\t".includes(text[i])) i++;
    return i;
  }
  let depth = 0;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') i = skipString(text, i) - 1;
    else if (ch === "[" || ch === "{") depth++;
    else if (ch === "]" || ch === "}") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return i;
}

function elementOffsets(text: string, arrayStart: number): number[] {
  const out: number[] = [];
  let i = skipWs(text, arrayStart + 1);
  while (i < text.length && text[i] !== "]") {
    out.push(i);
    i = skipWs(text, skipValue(text, i));
    if (text[i] === ",") i = skipWs(text, i + 1);
  }
  return out;
}

/** Offset of the `[` that opens the top-level object's "data" array (the last one, as JSON.parse keeps). */
function findDataArray(text: string): number {
  let i = skipWs(text, text.indexOf("{") + 1);
  let found = -1;
  while (i < text.length && text[i] !== "}") {
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    i = skipWs(text, i + 1); // past ':'
    if (key === "data" && text[i] === "[") found = i;
    i = skipWs(text, skipValue(text, i));
    if (text[i] === ",") i = skipWs(text, i + 1);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------
// Parquet

async function* readParquetRows(file: string): AsyncGenerator<RowResult> {
  const { parquetReadObjects } = await import("hyparquet");
  const bytes = readFileSync(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  if (buffer.byteLength === 0) throw new InputError({ file, line: 1 }, "empty file: no rows");
  let rows: Record<string, unknown>[];
  try {
    rows = (await parquetReadObjects({ file: buffer })) as Record<string, unknown>[];
  } catch (err) {
    throw new InputError({ file }, `cannot read Parquet file: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (rows.length === 0) throw new InputError({ file, line: 1 }, "empty file: no rows");
  for (let i = 0; i < rows.length; i++) yield rowResult(file, i + 1, rows[i]);
}
