/**
 * GGUF metadata values as read and written here: each keeps its GGUF value type, so a file read and written
 * again keeps its types, and accessors check the type a key must have (a wrong one names the file and key).
 */
import { InputError } from "../util/errors.js";
import { VALUE_TYPE } from "./constants.js";

export type Scalar = number | boolean | string;

export type MetaValue = { type: number; value: Scalar } | { type: typeof VALUE_TYPE.ARRAY; itemType: number; values: Scalar[] };

export type Metadata = Map<string, MetaValue>;

const INTEGER_TYPES: readonly number[] = [
  VALUE_TYPE.UINT8, VALUE_TYPE.INT8, VALUE_TYPE.UINT16, VALUE_TYPE.INT16, VALUE_TYPE.UINT32, VALUE_TYPE.INT32, VALUE_TYPE.UINT64, VALUE_TYPE.INT64,
];
const NUMBER_TYPES: readonly number[] = [...INTEGER_TYPES, VALUE_TYPE.FLOAT32, VALUE_TYPE.FLOAT64];

export const meta = {
  u32: (value: number): MetaValue => ({ type: VALUE_TYPE.UINT32, value }),
  i32: (value: number): MetaValue => ({ type: VALUE_TYPE.INT32, value }),
  f32: (value: number): MetaValue => ({ type: VALUE_TYPE.FLOAT32, value }),
  bool: (value: boolean): MetaValue => ({ type: VALUE_TYPE.BOOL, value }),
  str: (value: string): MetaValue => ({ type: VALUE_TYPE.STRING, value }),
  strings: (values: string[]): MetaValue => ({ type: VALUE_TYPE.ARRAY, itemType: VALUE_TYPE.STRING, values }),
  i32s: (values: number[]): MetaValue => ({ type: VALUE_TYPE.ARRAY, itemType: VALUE_TYPE.INT32, values }),
};

/** Typed look-ups into a file's metadata; every error names the file and key. */
export class MetadataView {
  constructor(
    readonly entries: Metadata,
    readonly file: string,
  ) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  private bad(key: string, detail: string): never {
    throw new InputError({ file: this.file, field: key }, detail);
  }

  private scalar(key: string, types: readonly number[], what: string): Scalar | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (!("value" in v) || !types.includes(v.type)) this.bad(key, `expected ${what}`);
    return v.value;
  }

  number(key: string): number | undefined {
    return this.scalar(key, NUMBER_TYPES, "a number") as number | undefined;
  }

  requiredNumber(key: string): number {
    return this.number(key) ?? this.bad(key, "missing");
  }

  /** A non-negative integer (counts, sizes, token ids). */
  integer(key: string): number | undefined {
    const v = this.scalar(key, INTEGER_TYPES, "an integer") as number | undefined;
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) this.bad(key, `expected a non-negative integer, got ${v}`);
    return v;
  }

  requiredInteger(key: string): number {
    return this.integer(key) ?? this.bad(key, "missing");
  }

  string(key: string): string | undefined {
    return this.scalar(key, [VALUE_TYPE.STRING], "a string") as string | undefined;
  }

  requiredString(key: string): string {
    return this.string(key) ?? this.bad(key, "missing");
  }

  bool(key: string): boolean | undefined {
    return this.scalar(key, [VALUE_TYPE.BOOL], "true or false") as boolean | undefined;
  }

  stringArray(key: string): string[] | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (!("values" in v) || v.itemType !== VALUE_TYPE.STRING) this.bad(key, "expected an array of strings");
    return v.values as string[];
  }

  integerArray(key: string): number[] | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (!("values" in v) || !INTEGER_TYPES.includes(v.itemType)) this.bad(key, "expected an array of integers");
    return v.values as number[];
  }
}
