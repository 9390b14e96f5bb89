/**
 * Parsers for command-line flag values, shared by every command so that a bad value reads the same
 * everywhere: `--flag: expected <what>, got "<raw>"` (exit 2 through UserError).
 */
import { Option } from "commander";
import { UserError } from "../util/errors.js";

/** Commander accumulator for repeatable flags (`--stop a --stop b`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A finite number that passes `check`; `expect` describes what was wanted ("a positive integer"). */
export function parseNumber(flag: string, raw: string, check: (x: number) => boolean, expect: string): number {
  const x = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(x) || !check(x)) throw new UserError(`${flag}: expected ${expect}, got "${raw}"`);
  return x;
}

/** A number (or integer) within optional inclusive bounds, with the bounds spelled out in the error. */
export function parseBounded(flag: string, raw: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number {
  const range = [opts.min !== undefined ? `≥ ${opts.min}` : "", opts.max !== undefined ? `≤ ${opts.max}` : ""].filter(Boolean).join(" and ");
  return parseNumber(
    flag,
    raw,
    (v) => (!opts.integer || Number.isInteger(v)) && (opts.min === undefined || v >= opts.min) && (opts.max === undefined || v <= opts.max),
    `${opts.integer ? "an integer" : "a number"}${range ? " " + range : ""}`,
  );
}

export function positiveInt(flag: string, raw: string): number {
  return parseNumber(flag, raw, (x) => Number.isInteger(x) && x > 0, "a positive integer");
}

/** A non-empty comma-separated list of names. */
export function parseList(flag: string, raw: string): string[] {
  const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UserError(`${flag}: expected a comma-separated list, got "${raw}"`);
  return items;
}

/** A comma-separated list of integers (e.g. `--levels 1,2`). */
export function parseIntList(flag: string, raw: string): number[] {
  const parts = raw.split(",").map((s) => s.trim());
  if (parts.some((p) => !/^-?\d+$/.test(p))) throw new UserError(`${flag}: expected integers separated by commas, got "${raw}"`);
  return parts.map(Number);
}

/**
 * `--skip-bad-rows`, with the same words and meaning on every command that reads a user's data file
 * (`data inspect`, `grade`, `eval` with file benchmarks, `train-sft`): a row with an error (malformed JSON,
 * invalid UTF-8, a missing or mistyped field) is skipped, counted and reported on stderr (the first ten with
 * their file, line and field) instead of stopping the command. Problems with the file as a whole (missing,
 * empty, unreadable) still stop it.
 */
export function skipBadRowsOption(): Option {
  return new Option("--skip-bad-rows", "skip rows with errors (counted and reported) instead of stopping at the first");
}
