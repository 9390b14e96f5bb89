/**
 * Resolving a run configuration: preset → config file → `--set` overrides, merged in that order and then
 * validated by one schema. Every error names the key path and the layer that set the bad value (the file and
 * line, or the `--set` argument), because "expected number" alone does not tell a user where to look.
 */
import { existsSync, readFileSync } from "node:fs";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, stringify, type Document } from "yaml";
import type { z } from "zod";
import { parseJsonText } from "../data/json-error.js";
import { InputError, UserError } from "../util/errors.js";
import { isPresetName, presetNames, presets } from "./presets.js";
import { RunConfigSchema, type RunConfig } from "./schema.js";

export type KeyPath = (string | number)[];

/** One validation problem, located. */
export interface ConfigIssue {
  /** Key path inside the configuration, e.g. `selection.alpha`. */
  path: string;
  /** What is wrong, e.g. `expected number, got string "abc"`. */
  detail: string;
  /** Where the offending value came from: a file (with line), a `--set` argument, a preset. */
  source: string;
  line?: number;
}

/** Invalid configuration (exit 2). The message has one line per issue: `source[:line]: key.path: detail`. */
export class ConfigError extends UserError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"), 2);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line !== undefined ? `${issue.source}:${issue.line}` : issue.source;
  return `${where}: ${issue.path === "" ? "(top level)" : issue.path}: ${issue.detail}`;
}

export interface ResolveOptions {
  /** A preset name (`paper-7b`, `paper-1.5b`, `demo`, `ci`). A config file may also name one with `preset:`. */
  preset?: string;
  /** A YAML or JSON config file. */
  file?: string;
  /**
   * Overrides applied last: `key.path=value` strings as given to `--set` (values are parsed as YAML scalars, so
   * `0.3` is a number and `[a, b]` a list), or an object mapping key paths to already-typed values.
   */
  overrides?: string[] | Record<string, unknown>;
  /**
   * A configuration to start from, below the preset and file (e.g. the one a run recorded, so that a later stage
   * command on that run sees the run's settings unless told otherwise).
   */
  base?: { label: string; data: Record<string, unknown> };
}

/** One source of configuration values, in merge order. */
interface Layer {
  label: string;
  data: Record<string, unknown>;
  /** Leaf paths this layer set (an array counts as one leaf). */
  leaves: KeyPath[];
  lineOf?: (path: KeyPath) => number | undefined;
}

/** Resolves and validates a run configuration. Throws ConfigError / UserError (exit 2) on bad input. */
export function resolveConfig(opts: ResolveOptions = {}): RunConfig {
  const layers: Layer[] = [];
  if (opts.base !== undefined) {
    const data = structuredClone(opts.base.data);
    layers.push({ label: opts.base.label, data, leaves: leafPaths(data) });
  }
  const fileLayer = opts.file !== undefined ? readConfigFile(opts.file) : undefined;

  const fromFile = fileLayer?.data.preset;
  let presetName: string | undefined = opts.preset;
  if (presetName === undefined && typeof fromFile === "string") presetName = fromFile;
  if (presetName !== undefined) {
    if (!isPresetName(presetName)) {
      const where = opts.preset !== undefined ? "--preset" : `${opts.file}: preset`;
      throw new UserError(`${where}: unknown preset "${presetName}" (presets: ${presetNames.join(", ")})`);
    }
    const data = structuredClone(presets[presetName]) as Record<string, unknown>;
    layers.push({ label: `preset ${presetName}`, data, leaves: leafPaths(data) });
  }
  if (fileLayer) layers.push(fileLayer);

  let merged: Record<string, unknown> = {};
  for (const layer of layers) merged = deepMerge(merged, layer.data);
  if (presetName !== undefined) merged.preset = presetName;

  for (const layer of overrideLayers(opts.overrides)) {
    const path = layer.leaves[0];
    if (path[0] === "preset") {
      throw new UserError(`${layer.label}: choose a preset with --preset (or "preset:" in a config file), not --set`);
    }
    merged = setIn(merged, path, getIn(layer.data, path), layer.label);
    layers.push(layer);
  }

  const result = RunConfigSchema.safeParse(merged, { reportInput: true });
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.flatMap((issue) => toConfigIssues(issue, layers)));
}

/** The resolved configuration as YAML, for humans (`config show` without --json). */
export function configToYaml(config: RunConfig): string {
  return stringify(config, { lineWidth: 0 });
}

// ---------------------------------------------------------------------------------------------------------
// Layers

function readConfigFile(file: string): Layer {
  if (!existsSync(file)) throw new UserError(`config file not found: ${file}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(readFileSync(file));
  } catch (err) {
    throw new UserError(`${file}: cannot read config file: ${err instanceof TypeError ? "not valid UTF-8" : String(err)}`);
  }
  // A JSON file's syntax errors read as everywhere else (file, line, field, column: src/data/json-error.ts).
  if (/\.json$/i.test(file)) parseJsonText(file, text);
  const lineCounter = new LineCounter();
  // YAML 1.2 is a superset of JSON, so one parser serves both and gives line numbers for both.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const { line, col } = lineCounter.linePos(e.pos[0]);
    throw new InputError({ file, line }, `malformed YAML at column ${col}: ${e.message.split("\n")[0]}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return { label: file, data: {}, leaves: [] };
  if (!isPlainObject(value)) {
    throw new ConfigError([{ source: file, line: 1, path: "", detail: `expected a mapping of keys to values, got ${describeType(value)}` }]);
  }
  return { label: file, data: value, leaves: leafPaths(value), lineOf: (path) => lineInDocument(doc, lineCounter, path) };
}

/** Line of the key (for mappings) or item (for lists) at `path`, or of its deepest existing ancestor. */
function lineInDocument(doc: Document, lineCounter: LineCounter, path: KeyPath): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const parent: unknown = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const key = path[n - 1];
    let range: [number, number, number] | null | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      range = isScalar(pair?.key) ? pair.key.range : undefined;
    } else if (isSeq(parent) && typeof key === "number") {
      const item = parent.items[key];
      range = isNode(item) ? item.range : undefined;
    }
    if (range) return lineCounter.linePos(range[0]).line;
  }
  return undefined;
}

function overrideLayers(overrides: ResolveOptions["overrides"]): Layer[] {
  if (overrides === undefined) return [];
  const entries: [string, unknown, string][] = Array.isArray(overrides)
    ? overrides.map((s) => {
        const { key, value } = parseOverride(s);
        return [key, value, `--set ${s}`];
      })
    : Object.entries(overrides).map(([key, value]) => [key, value, `override ${key}`]);
  return entries.map(([key, value, label]) => {
    const path = splitKeyPath(key, label);
    return { label, data: setIn({}, path, value, label), leaves: [path] };
  });
}

/** Parses one `--set key.path=value`; the value is read as a YAML scalar or flow collection. */
export function parseOverride(arg: string): { key: string; value: unknown } {
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new UserError(`--set ${arg}: expected key.path=value (e.g. --set selection.alpha=0.3)`);
  const key = arg.slice(0, eq).trim();
  const raw = arg.slice(eq + 1);
  const doc = parseDocument(raw);
  if (doc.errors.length > 0) throw new UserError(`--set ${arg}: cannot parse value: ${doc.errors[0].message.split("\n")[0]}`);
  const value: unknown = raw.trim() === "" ? "" : doc.toJS();
  return { key, value };
}

function splitKeyPath(key: string, label: string): KeyPath {
  const parts = key.split(".");
  if (parts.some((p) => p === "")) throw new UserError(`${label}: bad key path "${key}"`);
  return parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

// ---------------------------------------------------------------------------------------------------------
// Plain-object helpers

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; arrays and scalars replace (a list of datasets is one value). */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : structuredClone(v);
  }
  return out;
}

function leafPaths(v: unknown, prefix: KeyPath = []): KeyPath[] {
  if (!isPlainObject(v)) return [prefix];
  const entries = Object.entries(v);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, child]) => leafPaths(child, [...prefix, k]));
}

function getIn(v: unknown, path: KeyPath): unknown {
  let cur = v;
  for (const k of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** Returns a copy of `root` with `value` at `path`; numeric segments index into existing arrays. */
function setIn(root: Record<string, unknown>, path: KeyPath, value: unknown, label: string): Record<string, unknown> {
  const out = structuredClone(root);
  let cur: Record<string | number, unknown> | unknown[] = out;
  for (let i = 0; i < path.length; i++) {
    const k = path[i];
    const last = i === path.length - 1;
    if (Array.isArray(cur)) {
      if (typeof k !== "number" || k > cur.length) {
        throw new UserError(`${label}: ${pathString(path.slice(0, i))} is a list; use an index from 0 to ${cur.length}`);
      }
    }
    const container = cur as Record<string | number, unknown>;
    if (last) {
      container[k] = value;
    } else {
      let next = container[k];
      if (typeof next === "string" && typeof path[i + 1] === "string") {
        // `datasets.0.limit=5` where the dataset was given as a bare name: expand to its object form.
        next = { name: next };
        container[k] = next;
      }
      if (next === null || typeof next !== "object") {
        // Indexing into a list the layers did not set (`datasets.0.limit=5`) starts from the schema's default list.
        const fallback = typeof path[i + 1] === "number" ? getIn(schemaDefaults(), path.slice(0, i + 1)) : undefined;
        next = Array.isArray(fallback) ? structuredClone(fallback) : typeof path[i + 1] === "number" ? [] : {};
        container[k] = next;
      }
      cur = next as Record<string | number, unknown>;
    }
  }
  return out;
}

let defaultsCache: RunConfig | undefined;
function schemaDefaults(): RunConfig {
  defaultsCache ??= RunConfigSchema.parse({});
  return defaultsCache;
}

function pathString(path: PropertyKey[]): string {
  return path.map(String).join(".");
}

// ---------------------------------------------------------------------------------------------------------
// Issues

/** The layer that gave the value at `path`: the last one that set it, a parent of it, or something inside it. */
function sourceOf(path: KeyPath, layers: Layer[]): { source: string; line?: number } {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i];
    const hit = layer.leaves.some((leaf) => isPrefix(leaf, path) || isPrefix(path, leaf));
    if (hit) return { source: layer.label, line: layer.lineOf?.(path) };
  }
  return { source: "defaults" };
}

function isPrefix(a: KeyPath, b: KeyPath): boolean {
  return a.length <= b.length && a.every((k, i) => String(k) === String(b[i]));
}

function toConfigIssues(issue: z.core.$ZodIssue, layers: Layer[]): ConfigIssue[] {
  const path = issue.path.map((k) => (typeof k === "symbol" ? String(k) : k));
  if (issue.code === "unrecognized_keys") {
    const allowed = allowedKeysAt(path);
    return issue.keys.map((key) => {
      const full = [...path, key];
      const suggestion = allowed ? closest(key, allowed) : undefined;
      const detail =
        `unknown key` +
        (suggestion ? ` (did you mean "${suggestion}"?)` : "") +
        (allowed ? `; allowed keys: ${allowed.join(", ")}` : "");
      return { path: pathString(full), detail, ...sourceOf(full, layers) };
    });
  }
  return [{ path: pathString(path), detail: describeIssue(issue), ...sourceOf(path, layers) }];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined) return `required (expected ${issue.expected})`;
      if (issue.expected === "int" || (issue.expected === "number" && typeof input === "number")) {
        return `expected an integer, got ${describeValue(input)}`;
      }
      return `expected ${issue.expected}, got ${describeValue(input)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${describeValue(input)}`;
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const op = issue.code === "too_small" ? (issue.inclusive ? ">=" : ">") : issue.inclusive ? "<=" : "<";
      if (issue.origin === "array") return `expected ${op === ">=" ? "at least" : "at most"} ${String(bound)} item(s), got ${describeValue(input)}`;
      if (issue.origin === "string") return `expected a non-empty string, got ${describeValue(input)}`;
      return `expected a number ${op} ${String(bound)}, got ${describeValue(input)}`;
    }
    case "invalid_format":
      return `expected ${issue.format}, got ${describeValue(input)}`;
    default:
      return issue.message;
  }
}

function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function describeValue(v: unknown): string {
  const t = describeType(v);
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + "..." : v)}`;
  if (typeof v === "number" || typeof v === "boolean") return `${t} ${String(v)}`;
  if (Array.isArray(v)) return `array of ${v.length}`;
  return t;
}

/** The keys a strict object at `path` allows, by walking the schema (undefined where that is not an object). */
function allowedKeysAt(path: KeyPath): string[] | undefined {
  let schema: unknown = RunConfigSchema;
  for (const k of path) {
    schema = unwrap(schema);
    const def = defOf(schema);
    if (def?.type === "object" && typeof k === "string") schema = (def.shape as Record<string, unknown>)[k];
    else if (def?.type === "array" && typeof k === "number") schema = def.element;
    else return undefined;
  }
  const def = defOf(unwrap(schema));
  return def?.type === "object" ? Object.keys(def.shape as Record<string, unknown>) : undefined;
}

interface SchemaDef {
  type: string;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  shape?: unknown;
  element?: unknown;
}

function defOf(schema: unknown): SchemaDef | undefined {
  return (schema as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;
}

/** Strips defaults, optionals and pipes (preprocess / transform) down to the structural schema. */
function unwrap(schema: unknown): unknown {
  for (let i = 0; i < 20; i++) {
    const def = defOf(schema);
    if (!def) return schema;
    if (def.innerType !== undefined) schema = def.innerType;
    else if (def.type === "pipe") schema = ["object", "array"].includes(defOf(def.in)?.type ?? "") ? def.in : def.out;
    else return schema;
  }
  return schema;
}

function closest(word: string, options: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = o;
    }
  }
  return bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
