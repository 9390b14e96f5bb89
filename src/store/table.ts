/**
 * Typed record tables in a run store.
 *
 * A stage declares its record type once, at module level, with `defineTable<Record>()({...})`; the
 * declaration is plain data (no store needed), so exports, tests and `runs show` can refer to it. Binding it
 * to a store (`store.table(def)`) creates the SQLite table if missing and checks that an existing one has the
 * same shape, so a code change that alters a record type never writes rows into a table of the old shape.
 *
 * Mapping of column types (SQLite STRICT tables, so SQLite itself rejects a wrong type):
 *   text → TEXT, integer → INTEGER (safe integers only), real → REAL (NaN rejected: SQLite would store NULL),
 *   boolean → INTEGER 0/1, json → TEXT (JSON.stringify / JSON.parse), blob → BLOB (read back as Buffer).
 * An `optional` column stores an absent (undefined) property as NULL and reads NULL back as an absent
 * property; `null` itself round-trips only through a json column.
 *
 * Writes never overwrite silently: `putMany` inserts, and a record whose key is already stored is compared
 * with the stored one ("verify", the default): identical → ignored (so re-running is idempotent), different →
 * `RecordConflictError` and the whole call is rolled back. "ignore" and "replace" are explicit opt-outs.
 */
import type Database from "better-sqlite3";
import { UserError } from "../util/errors.js";

export type ColumnType = "text" | "integer" | "real" | "boolean" | "json" | "blob";

type Defined<V> = Exclude<V, undefined>;
/** Column types that can hold a TypeScript value type; null and anything structured need json. */
export type ColumnTypesFor<V> = [Defined<V>] extends [string]
  ? "text" | "json"
  : [Defined<V>] extends [number]
    ? "integer" | "real" | "json"
    : [Defined<V>] extends [boolean]
      ? "boolean" | "json"
      : [Defined<V>] extends [Uint8Array]
        ? "blob"
        : "json";

/** How one property is stored: a type name, or `{type, optional: true}` for a property that may be absent. */
export type ColumnDecl<V> = undefined extends V
  ? { readonly type: ColumnTypesFor<V>; readonly optional: true }
  : ColumnTypesFor<V> | { readonly type: ColumnTypesFor<V>; readonly optional?: false };

/** One declaration per property of T (all of them, none extra). Pick<> keeps `undefined` of optional props. */
export type ColumnsOf<T> = { readonly [P in keyof T]-?: ColumnDecl<Pick<T, P>[P]> };

export interface TableSpec<T extends object, K extends keyof T & string> {
  /** SQL name: lower case, digits, underscores; names starting with "_" are the store's own. */
  readonly name: string;
  /** Bump when the record shape or meaning changes; a run holding another version refuses to mix them. */
  readonly version: number;
  /** The natural key: the columns that identify a record (text or integer, not optional). */
  readonly key: readonly K[];
  readonly columns: ColumnsOf<T>;
  /** Extra indexes for frequent filters, e.g. [["problemId"]]. */
  readonly indexes?: ReadonlyArray<ReadonlyArray<keyof T & string>>;
  readonly description?: string;
}

export interface ColumnInfo {
  name: string;
  type: ColumnType;
  optional: boolean;
}

/** A validated table declaration. Carries T and K for typing only. */
export interface TableDef<T extends object, K extends keyof T & string> {
  readonly name: string;
  readonly version: number;
  readonly key: readonly K[];
  readonly columns: readonly ColumnInfo[];
  readonly indexes: ReadonlyArray<ReadonlyArray<string>>;
  readonly description?: string;
  /** Phantom field for type inference; never set. */
  readonly __record?: T;
}

export type KeyOf<T extends object, K extends keyof T & string> = Pick<T, K>;

/** Any record, for code that handles tables generically (the store's bookkeeping, `runs show`). */
export type AnyRecord = Record<string, unknown>;
export type AnyTableDef = TableDef<AnyRecord, string>;
export type AnyTable = Table<AnyRecord, string>;

const TABLE_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const COLUMN_TYPES: readonly ColumnType[] = ["text", "integer", "real", "boolean", "json", "blob"];

/**
 * Declares a record table. Curried so that T is given and the key columns are inferred:
 *
 *   export const samplesTable = defineTable<SampleRecord>()({
 *     name: "samples", version: 1, key: ["problemId", "sampleIndex"],
 *     columns: { problemId: "text", sampleIndex: "integer", text: "text", tokenIds: "json",
 *                finishReason: "text", stopReason: { type: "json", optional: true } },
 *   });
 */
export function defineTable<T extends object>() {
  return <K extends keyof T & string>(spec: TableSpec<T, K>): TableDef<T, K> => {
    const where = `table "${spec.name}"`;
    if (!TABLE_NAME.test(spec.name) || spec.name.includes("__")) {
      throw new Error(`${where}: name must match ${TABLE_NAME} and not contain "__" (reserved for archived tables)`);
    }
    if (!Number.isInteger(spec.version) || spec.version < 1) throw new Error(`${where}: version must be a positive integer`);
    const columns: ColumnInfo[] = [];
    for (const [name, decl] of Object.entries(spec.columns) as Array<[string, ColumnType | { type: ColumnType; optional?: boolean }]>) {
      if (!COLUMN_NAME.test(name)) throw new Error(`${where}: column name "${name}" must match ${COLUMN_NAME}`);
      const type = typeof decl === "string" ? decl : decl.type;
      if (!COLUMN_TYPES.includes(type)) throw new Error(`${where}: column "${name}" has unknown type "${String(type)}"`);
      columns.push({ name, type, optional: typeof decl === "object" && decl.optional === true });
    }
    if (columns.length === 0) throw new Error(`${where}: no columns`);
    if (spec.key.length === 0) throw new Error(`${where}: a natural key is required`);
    if (new Set(spec.key).size !== spec.key.length) throw new Error(`${where}: repeated key column`);
    for (const k of spec.key) {
      const col = columns.find((c) => c.name === k);
      if (!col) throw new Error(`${where}: key column "${k}" is not a column`);
      if (col.type !== "text" && col.type !== "integer") throw new Error(`${where}: key column "${k}" must be text or integer`);
      if (col.optional) throw new Error(`${where}: key column "${k}" cannot be optional`);
    }
    for (const idx of spec.indexes ?? []) {
      for (const c of idx) if (!columns.some((col) => col.name === c)) throw new Error(`${where}: index column "${c}" is not a column`);
    }
    return Object.freeze({
      name: spec.name,
      version: spec.version,
      key: Object.freeze([...spec.key]),
      columns: Object.freeze(columns),
      indexes: Object.freeze((spec.indexes ?? []).map((i) => Object.freeze([...i]))),
      description: spec.description,
    });
  };
}

/** The shape of a table as recorded in the store, to detect a code change against stored data. */
export function tableShape(def: AnyTableDef): { version: number; key: readonly string[]; columns: readonly ColumnInfo[] } {
  return { version: def.version, key: def.key, columns: def.columns };
}

/** A record that cannot be stored as declared (wrong type, NaN, missing property). */
export class RecordError extends Error {
  constructor(
    readonly table: string,
    readonly column: string,
    readonly keyText: string,
    detail: string,
  ) {
    super(`table "${table}", record ${keyText}: column "${column}": ${detail}`);
    this.name = "RecordError";
  }
}

/** A record whose key is stored already with different contents: stored data is never overwritten silently. */
export class RecordConflictError extends UserError {
  constructor(
    readonly table: string,
    readonly keyText: string,
    readonly columns: readonly string[],
  ) {
    super(
      `table "${table}": record ${keyText} is already stored with different contents (columns ${columns.join(", ")}); ` +
        `stored records are never overwritten. Results are not reproducible here, or two items produce the same key.`,
      1,
    );
    this.name = "RecordConflictError";
  }
}

export type OnConflict = "verify" | "ignore" | "replace";

export interface PutResult {
  /** New records stored. */
  inserted: number;
  /** Records whose key was stored already (identical under "verify"). */
  existing: number;
}

export interface IterateOptions {
  limit?: number;
  offset?: number;
}

type Row = Record<string, unknown>;

const SQL_TYPE: Record<ColumnType, string> = {
  text: "TEXT",
  integer: "INTEGER",
  real: "REAL",
  boolean: "INTEGER",
  json: "TEXT",
  blob: "BLOB",
};

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function createTableSql(def: AnyTableDef, sqlName: string): string[] {
  const cols = def.columns.map((c) => `${quoteIdent(c.name)} ${SQL_TYPE[c.type]}${c.optional ? "" : " NOT NULL"}`);
  const pk = `PRIMARY KEY (${def.key.map(quoteIdent).join(", ")})`;
  const stmts = [`CREATE TABLE IF NOT EXISTS ${quoteIdent(sqlName)} (${[...cols, pk].join(", ")}) STRICT`];
  def.indexes.forEach((idx, i) => {
    stmts.push(`CREATE INDEX IF NOT EXISTS ${quoteIdent(`${sqlName}_idx${i}`)} ON ${quoteIdent(sqlName)} (${idx.map(quoteIdent).join(", ")})`);
  });
  return stmts;
}

/**
 * A table bound to an open store. Obtain it with `store.table(def)`; do not construct directly.
 * All reads return records in natural-key order, so exports do not depend on the order work was done in.
 */
export class Table<T extends object, K extends keyof T & string> {
  private readonly stmts = new Map<string, Database.Statement>();
  private putTx: ((rows: readonly unknown[][], onConflict: OnConflict) => PutResult) | undefined;
  private readonly colNames: string[];
  private readonly keyIndexes: number[];

  /** @internal */
  constructor(
    private readonly db: Database.Database,
    readonly def: TableDef<T, K>,
    /** @internal the SQL table name (differs from def.name for archived tables) */
    readonly sqlName: string = def.name,
  ) {
    this.colNames = def.columns.map((c) => c.name);
    this.keyIndexes = def.key.map((k) => this.colNames.indexOf(k));
  }

  get name(): string {
    return this.def.name;
  }

  /** Validates and converts a record to SQLite values in column order; throws RecordError naming the column. */
  encode(record: T): unknown[] {
    const r = record as Row;
    const keyText = this.describeKey(r);
    const out: unknown[] = new Array(this.def.columns.length);
    this.def.columns.forEach((col, i) => {
      const v = r[col.name];
      const fail = (detail: string): never => {
        throw new RecordError(this.def.name, col.name, keyText, detail);
      };
      if (v === undefined) {
        if (!col.optional) fail("missing (the column is not optional)");
        out[i] = null;
        return;
      }
      switch (col.type) {
        case "text":
          if (typeof v !== "string") fail(`expected a string, got ${describe(v)}`);
          out[i] = v;
          break;
        case "integer":
          if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(`expected a safe integer, got ${describe(v)}`);
          out[i] = v;
          break;
        case "real":
          if (typeof v !== "number" || Number.isNaN(v)) fail(`expected a number (not NaN), got ${describe(v)}`);
          out[i] = v;
          break;
        case "boolean":
          if (typeof v !== "boolean") fail(`expected a boolean, got ${describe(v)}`);
          out[i] = v ? 1 : 0;
          break;
        case "json": {
          let text: string | undefined;
          try {
            text = JSON.stringify(v);
          } catch (err) {
            fail(`not JSON-serialisable: ${err instanceof Error ? err.message : String(err)}`);
          }
          if (text === undefined) fail(`not JSON-serialisable (${describe(v)})`);
          out[i] = text;
          break;
        }
        case "blob":
          if (!(v instanceof Uint8Array)) fail(`expected a Uint8Array/Buffer, got ${describe(v)}`);
          out[i] = Buffer.from((v as Uint8Array).buffer, (v as Uint8Array).byteOffset, (v as Uint8Array).byteLength);
          break;
      }
    });
    return out;
  }

  /** Converts a stored row back to a record. */
  decode(row: Row): T {
    const out: Row = {};
    for (const col of this.def.columns) {
      const v = row[col.name];
      if (v === null || v === undefined) {
        if (col.optional) continue;
        throw new Error(`table "${this.def.name}": column "${col.name}" is NULL in a stored row`);
      }
      switch (col.type) {
        case "boolean":
          out[col.name] = v === 1;
          break;
        case "json":
          out[col.name] = JSON.parse(v as string);
          break;
        default:
          out[col.name] = v;
      }
    }
    return out as T;
  }

  /**
   * Stores records in one transaction (a savepoint when called inside one). Records whose key is stored
   * already are compared ("verify", default), skipped ("ignore") or updated in place ("replace").
   */
  putMany(records: Iterable<T>, opts: { onConflict?: OnConflict } = {}): PutResult {
    const encoded = Array.from(records, (r) => this.encode(r));
    return this.putEncoded(encoded, opts.onConflict ?? "verify");
  }

  put(record: T, opts: { onConflict?: OnConflict } = {}): PutResult {
    return this.putMany([record], opts);
  }

  /** @internal rows already produced by `encode`, in their own transaction (a savepoint when nested). */
  putEncoded(rows: readonly unknown[][], onConflict: OnConflict): PutResult {
    this.putTx ??= this.db.transaction((r: readonly unknown[][], c: OnConflict) => this.insertEncoded(r, c));
    return this.putTx(rows, onConflict);
  }

  /** @internal like putEncoded, for callers already inside a transaction (the stage runner's commit). */
  insertEncoded(rows: readonly unknown[][], onConflict: OnConflict): PutResult {
    let inserted = 0;
    let existing = 0;
    const insert = this.stmt(onConflict === "replace" ? "upsert" : "insert");
    for (const row of rows) {
      if (onConflict === "replace") {
        // An upsert reports one change either way; look first only to report honest counts.
        if (this.stmt("has").get(...this.keyIndexes.map((i) => row[i])) === undefined) inserted++;
        else existing++;
        insert.run(...row);
        continue;
      }
      if (insert.run(...row).changes === 1) {
        inserted++;
        continue;
      }
      existing++;
      if (onConflict === "verify") this.verifySame(row);
    }
    return { inserted, existing };
  }

  has(key: KeyOf<T, K>): boolean {
    return this.stmt("has").get(...this.keyValues(key)) !== undefined;
  }

  get(key: KeyOf<T, K>): T | undefined {
    const row = this.stmt("get").get(...this.keyValues(key)) as Row | undefined;
    return row === undefined ? undefined : this.decode(row);
  }

  /**
   * Records in natural-key order, optionally only those whose columns equal `filter`'s values (text,
   * integer, real and boolean columns). The iterator holds a read on the connection: finish (or break out
   * of) it before writing to the store.
   */
  *iterate(filter: Partial<T> = {}, opts: IterateOptions = {}): IterableIterator<T> {
    const { where, params } = this.whereClause(filter);
    let sql = `SELECT * FROM ${quoteIdent(this.sqlName)}${where} ORDER BY ${this.def.key.map(quoteIdent).join(", ")}`;
    if (opts.limit !== undefined || opts.offset !== undefined) {
      sql += ` LIMIT ? OFFSET ?`;
      params.push(opts.limit ?? -1, opts.offset ?? 0);
    }
    for (const row of this.db.prepare(sql).iterate(...params)) yield this.decode(row as Row);
  }

  all(filter: Partial<T> = {}, opts: IterateOptions = {}): T[] {
    return [...this.iterate(filter, opts)];
  }

  count(filter: Partial<T> = {}): number {
    const { where, params } = this.whereClause(filter);
    const row = this.db.prepare(`SELECT count(*) AS n FROM ${quoteIdent(this.sqlName)}${where}`).get(...params) as { n: number };
    return row.n;
  }

  /** The keys of all records (or of those matching `filter`), in key order. */
  *keys(filter: Partial<T> = {}): IterableIterator<KeyOf<T, K>> {
    const { where, params } = this.whereClause(filter);
    const cols = this.def.key.map(quoteIdent).join(", ");
    for (const row of this.db.prepare(`SELECT ${cols} FROM ${quoteIdent(this.sqlName)}${where} ORDER BY ${cols}`).iterate(...params)) {
      yield row as KeyOf<T, K>;
    }
  }

  /** Human form of a record's key for messages: `{problemId="p1", sampleIndex=3}`. */
  describeKey(record: Partial<T> | Row): string {
    const r = record as Row;
    return "{" + this.def.key.map((k) => `${k}=${JSON.stringify(r[k]) ?? "undefined"}`).join(", ") + "}";
  }

  private verifySame(row: unknown[]): void {
    const stored = this.stmt("getRaw").get(...this.keyIndexes.map((i) => row[i])) as unknown[];
    const differing: string[] = [];
    this.colNames.forEach((name, i) => {
      if (!sameSqlValue(stored[i], row[i])) differing.push(name);
    });
    if (differing.length > 0) {
      const keyRecord: Row = {};
      this.def.key.forEach((k, j) => (keyRecord[k] = row[this.keyIndexes[j]]));
      throw new RecordConflictError(this.def.name, this.describeKey(keyRecord), differing);
    }
  }

  private keyValues(key: KeyOf<T, K>): unknown[] {
    const k = key as Row;
    return this.def.key.map((name) => {
      const v = k[name];
      if (v === undefined) throw new Error(`table "${this.def.name}": key lookup without column "${name}"`);
      return v;
    });
  }

  private whereClause(filter: Partial<T>): { where: string; params: unknown[] } {
    const parts: string[] = [];
    const params: unknown[] = [];
    for (const [name, value] of Object.entries(filter as Row)) {
      if (value === undefined) continue;
      const col = this.def.columns.find((c) => c.name === name);
      if (!col) throw new Error(`table "${this.def.name}": filter on unknown column "${name}"`);
      if (col.type === "json" || col.type === "blob") throw new Error(`table "${this.def.name}": cannot filter on ${col.type} column "${name}"`);
      if (value === null) {
        parts.push(`${quoteIdent(name)} IS NULL`);
        continue;
      }
      parts.push(`${quoteIdent(name)} = ?`);
      params.push(col.type === "boolean" ? (value ? 1 : 0) : value);
    }
    return { where: parts.length ? ` WHERE ${parts.join(" AND ")}` : "", params };
  }

  private stmt(kind: "insert" | "upsert" | "has" | "get" | "getRaw"): Database.Statement {
    let s = this.stmts.get(kind);
    if (s) return s;
    const t = quoteIdent(this.sqlName);
    const cols = this.colNames.map(quoteIdent).join(", ");
    const marks = this.colNames.map(() => "?").join(", ");
    const keyWhere = this.def.key.map((k) => `${quoteIdent(k)} = ?`).join(" AND ");
    const keyCols = this.def.key.map(quoteIdent).join(", ");
    const nonKey = this.colNames.filter((c) => !(this.def.key as readonly string[]).includes(c));
    switch (kind) {
      case "insert":
        s = this.db.prepare(`INSERT INTO ${t} (${cols}) VALUES (${marks}) ON CONFLICT DO NOTHING`);
        break;
      case "upsert":
        s = this.db.prepare(
          `INSERT INTO ${t} (${cols}) VALUES (${marks}) ON CONFLICT (${keyCols}) DO ` +
            (nonKey.length ? `UPDATE SET ${nonKey.map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`).join(", ")}` : "NOTHING"),
        );
        break;
      case "has":
        s = this.db.prepare(`SELECT 1 FROM ${t} WHERE ${keyWhere}`);
        break;
      case "get":
        s = this.db.prepare(`SELECT ${cols} FROM ${t} WHERE ${keyWhere}`);
        break;
      case "getRaw":
        s = this.db.prepare(`SELECT ${cols} FROM ${t} WHERE ${keyWhere}`).raw(true);
        break;
    }
    this.stmts.set(kind, s);
    return s;
  }
}

function sameSqlValue(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
  // REAL columns hand back doubles; an integer-valued double and the same integer compare equal with ===.
  return a === b;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : `the number ${v}`;
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 30 ? v.slice(0, 30) + "…" : v)}`;
  return typeof v;
}
