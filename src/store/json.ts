/**
 * JSON helpers for the run store: a canonical form (sorted keys) for fingerprints, and a structural diff
 * that names the key paths where two configs differ, so a refusal can say exactly what changed.
 */
import { createHash } from "node:crypto";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** JSON with object keys sorted at every level: equal values give equal strings whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object" && !ArrayBuffer.isView(value)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** `sha256:<hex>` of the canonical JSON: a fingerprint of a config or a stage's parameters. */
export function fingerprint(value: unknown): string {
  return "sha256:" + createHash("sha256").update(canonicalJson(value)).digest("hex");
}

/** Round-trips a value through JSON (drops undefined, functions; fails on BigInt and cycles). */
export function toJsonValue(value: unknown, what: string): JsonValue {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new Error(`${what} is not JSON-serialisable: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (text === undefined) throw new Error(`${what} is not JSON-serialisable (got ${typeof value})`);
  return JSON.parse(text) as JsonValue;
}

export interface JsonDifference {
  /** Dotted key path, array indices as `[i]`: `sample.n`, `datasets[0].name`; "" for the root. */
  path: string;
  /** Path segments (array indices as decimal strings), used for pattern matching. */
  segments: string[];
  /** undefined when the key is absent on that side. */
  before: JsonValue | undefined;
  after: JsonValue | undefined;
}

/** Every leaf where `before` and `after` differ. Arrays of different lengths differ as a whole. */
export function diffJson(before: JsonValue | undefined, after: JsonValue | undefined): JsonDifference[] {
  const out: JsonDifference[] = [];
  walk(before, after, [], out);
  return out;
}

function isPlainObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);
}

function walk(a: JsonValue | undefined, b: JsonValue | undefined, segs: string[], out: JsonDifference[]): void {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) walk(a[k], b[k], [...segs, k], out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((v, i) => walk(v, b[i], [...segs, String(i)], out));
    return;
  }
  if (canonicalJson(a) !== canonicalJson(b)) out.push({ path: formatPath(segs), segments: segs, before: a, after: b });
}

export function formatPath(segs: readonly string[]): string {
  let s = "";
  for (const seg of segs) {
    if (/^\d+$/.test(seg)) s += `[${seg}]`;
    else s += s === "" ? seg : `.${seg}`;
  }
  return s;
}

/**
 * Matches a path against a pattern of dot-separated segments: `*` matches one segment, `**` any number
 * (including none). `**.concurrency` matches `concurrency` and `engine.http.concurrency`.
 */
export function matchPath(pattern: string, segments: readonly string[]): boolean {
  const pat = pattern.split(".").filter((p) => p !== "");
  const match = (pi: number, si: number): boolean => {
    if (pi === pat.length) return si === segments.length;
    if (pat[pi] === "**") {
      for (let k = si; k <= segments.length; k++) if (match(pi + 1, k)) return true;
      return false;
    }
    if (si === segments.length) return false;
    return (pat[pi] === "*" || pat[pi] === segments[si]) && match(pi + 1, si + 1);
  };
  return match(0, 0);
}

/** A short human rendering of a value for messages. */
export function showValue(v: JsonValue | undefined, max = 60): string {
  if (v === undefined) return "(absent)";
  const s = JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

export function formatDifferences(diffs: readonly JsonDifference[], max = 12): string {
  const lines = diffs.slice(0, max).map((d) => `  ${d.path || "(root)"}: ${showValue(d.before)} → ${showValue(d.after)}`);
  if (diffs.length > max) lines.push(`  … and ${diffs.length - max} more`);
  return lines.join("\n");
}
