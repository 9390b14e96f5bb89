/**
 * The run store: one directory per run.
 *
 *   <run>/run.sqlite   the records and the store's own bookkeeping (authoritative; SQLite WAL)
 *   <run>/config.json  the resolved config the records were computed with (pretty JSON, for people and tools)
 *   <run>/run.json     a manifest mirrored from run.sqlite: format, created time, seed, model identity, the
 *                      code version that created the run, the config fingerprint, and the history of commands
 *
 * run.sqlite is the truth; config.json and run.json are rewritten from it (atomically) whenever it changes,
 * and regenerated if missing. Bookkeeping tables start with "_":
 *   _meta      key → JSON value (format, createdAt, seed, model, code)
 *   _configs   every config the run has adopted (the first at creation, later ones only with --force)
 *   _commands  one row per command run against the run (argv, times, status, pid, code version)
 *   _tables    each record table's declared shape and the stage that owns it
 *   _stages    each stage's parameters fingerprint, status, owner process, total
 *   _items     one row per finished work item of a stage (ok or error), committed with its records
 *
 * Refusing to mix results: a command opens the run with the config it resolved. If the config, the seed or
 * the model differ from the run's (ignoring paths that cannot change results, such as concurrency or a
 * server URL), `open` refuses with `ConfigMismatchError`, naming every differing key. With `force`, the new
 * config is adopted (the old one stays in _configs) and each stage then compares its own parameters: a stage
 * whose parameters changed and that already holds records is archived (renamed aside, never deleted) when
 * the stage runner is told to (`onParamsChange: "archive"`, what `--force` should map to), and refuses
 * otherwise. So re-running with different parameters never silently mixes records, and never loses any.
 */
import Database from "better-sqlite3";
import { existsSync, readFileSync, readdirSync, statSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import type { ModelIdentity } from "../util/model-identity.js";
import { UserError } from "../util/errors.js";
import { codeVersion } from "../util/version.js";
import { diffJson, fingerprint, formatDifferences, matchPath, toJsonValue, type JsonDifference, type JsonValue } from "./json.js";
import { createTableSql, quoteIdent, Table, tableShape, type AnyTable, type AnyTableDef, type ColumnInfo, type TableDef } from "./table.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { commandLine } from "./invocation.js";

export const RUN_FORMAT = "tokensqueeze-run";
/** Version of the store's own layout (bookkeeping tables, run.json). Kept in PRAGMA user_version too. */
export const RUN_FORMAT_VERSION = 1;

export const RUN_DB = "run.sqlite";
export const RUN_MANIFEST = "run.json";
export const RUN_CONFIG = "config.json";

/**
 * Config paths that cannot change results and so never block reopening a run: how fast or where work is
 * done, not what is computed. Patterns use `*` (one key) and `**` (any depth). Commands may pass their own.
 * `engine.model` (a folder path), `engine.baseUrls` (where servers run) and `engine.servedModelName` are here because the model is
 * compared through its ModelIdentity instead (by weights hash when known), so a moved folder or a server
 * on another host is not a change, while other weights are. `preset` is only the name: the resolved values
 * it produced are compared.
 */
export const DEFAULT_VOLATILE_CONFIG_PATHS: readonly string[] = [
  "**.concurrency",
  "**.batchSize",
  "**.timeoutMs",
  "**.retries",
  "**.apiKey",
  "**.progress",
  "**.logLevel",
  "engine.model",
  "engine.baseUrls",
  "engine.requestsInFlight",
  "engine.servedModelName",
  "engine.apiKeyEnv",
  "preset",
];

export type CodeVersion = ReturnType<typeof codeVersion>;
export type CommandStatus = "running" | "ok" | "failed" | "interrupted";

export interface CommandRecord {
  id: number;
  argv: string[];
  startedAt: string;
  endedAt: string | null;
  /** As recorded; a "running" command whose process is gone shows as `ended: "killed"` in `runs show`. */
  status: CommandStatus;
  message: string | null;
  pid: number;
  host: string;
  code: CodeVersion;
}

export interface RunManifest {
  format: typeof RUN_FORMAT;
  formatVersion: number;
  createdAt: string;
  seed: number;
  model: ModelIdentity;
  /** The code that created the run; each command's own version is in `history`. */
  code: CodeVersion;
  configHash: string;
  /** How many configs the run has adopted (more than 1 only after --force). */
  configVersions: number;
  history: CommandRecord[];
}

export type StageStatus = "running" | "complete" | "complete-with-errors" | "interrupted" | "failed" | "archived";

export interface StageInfo {
  name: string;
  status: StageStatus;
  paramsHash: string;
  params: JsonValue;
  /** Number of items the last run of the stage was given, when known. */
  total: number | null;
  /** Items finished and committed (ok), and items whose error is recorded. */
  done: number;
  failed: number;
  records: number;
  tables: string[];
  startedAt: string | null;
  updatedAt: string | null;
  finishedAt: string | null;
  ownerPid: number | null;
  ownerHost: string | null;
  /** true when the status says running but the owning process no longer exists (it was killed). */
  ownerGone: boolean;
  lastError: string | null;
  /** For archived stages: the stage name they were archived from. */
  archivedFrom: string | null;
}

export interface TableInfo {
  name: string;
  version: number;
  key: string[];
  columns: ColumnInfo[];
  ownerStage: string | null;
  archivedFrom: string | null;
  rows: number;
}

export interface CommandInfo {
  /** The command line as typed, without the node/script prefix (e.g. process.argv.slice(2)). */
  argv: readonly string[];
}

export interface CreateOptions {
  /** The resolved config (JSON-serialisable). */
  config: unknown;
  model: ModelIdentity;
  /** The run seed; defaults to `config.seed` when that is an integer. */
  seed?: number;
  /** Record this command in the run's history (ended by `close`). */
  command?: CommandInfo;
}

export interface OpenOptions {
  /** The config this command resolved; compared with the run's. Omit to open without checks (inspection). */
  config?: unknown;
  model?: ModelIdentity;
  seed?: number;
  /** Adopt a differing config instead of refusing (stages then archive or refuse on their own). */
  force?: boolean;
  /** Paths whose differences are ignored; default DEFAULT_VOLATILE_CONFIG_PATHS. */
  volatileConfigPaths?: readonly string[];
  command?: CommandInfo;
  /** Open for reading only: no history entry, no manifest rewrite, no table creation. */
  readonly?: boolean;
}

/** The directory is not a run, or cannot be opened as one. */
export class NotARunError extends UserError {
  constructor(message: string) {
    super(message, 2);
    this.name = "NotARunError";
  }
}

/** The command's config, seed or model differ from the run's in ways that change results. */
export class ConfigMismatchError extends UserError {
  constructor(
    readonly dir: string,
    readonly differences: readonly JsonDifference[],
  ) {
    super(
      `the run in ${dir} was made with different settings; its records would mix with new ones:\n` +
        formatDifferences(differences) +
        `\nUse a new run directory, or pass --force to adopt the new settings (stages whose parameters changed ` +
        `then set their old records aside, archived, never deleted).`,
      2,
    );
    this.name = "ConfigMismatchError";
  }
}

/** A record table's stored shape differs from the shape the code declares. */
export class TableSchemaError extends UserError {
  constructor(message: string) {
    super(message, 2);
    this.name = "TableSchemaError";
  }
}

let cachedCode: CodeVersion | undefined;
function currentCode(): CodeVersion {
  cachedCode ??= codeVersion();
  return cachedCode;
}

function now(): string {
  return new Date().toISOString();
}

/** Whether a process with this pid exists on this machine (EPERM: exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

const META_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT`,
  `CREATE TABLE IF NOT EXISTS _configs (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, hash TEXT NOT NULL,
     config TEXT NOT NULL, reason TEXT NOT NULL, command_id INTEGER) STRICT`,
  `CREATE TABLE IF NOT EXISTS _commands (id INTEGER PRIMARY KEY, argv TEXT NOT NULL, started_at TEXT NOT NULL,
     ended_at TEXT, status TEXT NOT NULL, message TEXT, pid INTEGER NOT NULL, host TEXT NOT NULL, code TEXT NOT NULL) STRICT`,
  `CREATE TABLE IF NOT EXISTS _tables (name TEXT PRIMARY KEY, shape TEXT NOT NULL, owner_stage TEXT,
     archived_from TEXT, created_at TEXT NOT NULL) STRICT`,
  `CREATE TABLE IF NOT EXISTS _stages (name TEXT PRIMARY KEY, params_hash TEXT NOT NULL, params TEXT NOT NULL,
     status TEXT NOT NULL, total INTEGER, tables TEXT NOT NULL DEFAULT '[]', started_at TEXT, updated_at TEXT,
     finished_at TEXT, owner_pid INTEGER, owner_host TEXT, command_id INTEGER, last_error TEXT, archived_from TEXT) STRICT`,
  `CREATE TABLE IF NOT EXISTS _items (stage TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL, error TEXT,
     records INTEGER NOT NULL, finished_at TEXT NOT NULL, PRIMARY KEY (stage, key)) STRICT, WITHOUT ROWID`,
];

/** Makes `dir` absolute; a path to run.sqlite/run.json/config.json inside a run means the run itself. */
function runDirOf(path: string): string {
  const abs = resolve(path);
  if ([RUN_DB, RUN_MANIFEST, RUN_CONFIG].includes(basename(abs)) && existsSync(abs) && statSync(abs).isFile()) return dirname(abs);
  return abs;
}

function resolveSeed(explicit: number | undefined, config: JsonValue): number | undefined {
  if (explicit !== undefined) return explicit;
  if (config !== null && typeof config === "object" && !Array.isArray(config)) {
    const s = config.seed;
    if (typeof s === "number" && Number.isSafeInteger(s)) return s;
  }
  return undefined;
}

function checkSeed(seed: number | undefined, dir: string): number {
  if (seed === undefined) throw new UserError(`creating run ${dir}: no seed (pass one, or give the config an integer "seed")`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UserError(`creating run ${dir}: seed must be a non-negative integer, got ${seed}`);
  return seed;
}

function checkModel(model: ModelIdentity, dir: string): void {
  if (!model || typeof model.name !== "string" || model.name === "" || typeof model.engine !== "string" || model.engine === "") {
    throw new UserError(`run ${dir}: a model identity needs a non-empty name and engine`);
  }
}

/** Differences between two model identities that change results: the weights' hash when both sides know it. */
export function modelDifferences(before: ModelIdentity, after: ModelIdentity): JsonDifference[] {
  const out: JsonDifference[] = [];
  const add = (k: keyof ModelIdentity) =>
    out.push({ path: `model.${k}`, segments: ["model", k], before: before[k] ?? undefined, after: after[k] ?? undefined });
  if (before.engine !== after.engine) add("engine");
  if (before.sha256 && after.sha256) {
    if (before.sha256 !== after.sha256) add("sha256");
  } else if (before.name !== after.name) {
    add("name");
  }
  return out;
}

export class RunStore {
  /** Absolute path of the run directory. */
  readonly dir: string;
  readonly readonly: boolean;
  /** @internal the connection; stage code should go through tables and the stage runner. */
  readonly db: Database.Database;
  private readonly tableCache = new Map<string, AnyTable>();
  private commandId: number | null = null;
  private closed = false;

  private constructor(dir: string, db: Database.Database, readonly_: boolean) {
    this.dir = dir;
    this.db = db;
    this.readonly = readonly_;
  }

  // ── creating and opening ─────────────────────────────────────────────────────────────────────────

  /** Creates a new run in `dir` (which must not exist, or be empty). */
  static create(path: string, opts: CreateOptions): RunStore {
    const dir = runDirOf(path);
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new NotARunError(`cannot create a run at ${dir}: it is a file`);
      // An empty run.sqlite is what a create killed before its first commit leaves: reuse it.
      const interrupted = existsSync(join(dir, RUN_DB)) && isEmptyDatabase(join(dir, RUN_DB));
      if (existsSync(join(dir, RUN_DB)) && !interrupted) throw new NotARunError(`cannot create a run at ${dir}: it holds a run already (open it instead)`);
      const leftovers = interrupted ? [RUN_DB, `${RUN_DB}-wal`, `${RUN_DB}-shm`] : [];
      const entries = readdirSync(dir).filter((e) => !e.startsWith(".") && !leftovers.includes(e));
      if (entries.length > 0) {
        throw new NotARunError(`cannot create a run at ${dir}: the directory is not empty (${entries.slice(0, 5).join(", ")}${entries.length > 5 ? ", …" : ""})`);
      }
    }
    const config = toJsonValue(opts.config, "the run config");
    const seed = checkSeed(resolveSeed(opts.seed, config), dir);
    checkModel(opts.model, dir);
    mkdirSync(dir, { recursive: true });
    const db = openDatabase(join(dir, RUN_DB), false);
    const store = new RunStore(dir, db, false);
    const createdAt = now();
    // One transaction: run.sqlite either has all of its metadata or none (then it is an empty file that a
    // later create may reuse).
    db.transaction(() => {
      for (const sql of META_SCHEMA) db.exec(sql);
      const putMeta = db.prepare(`INSERT INTO _meta (key, value) VALUES (?, ?)`);
      putMeta.run("format", JSON.stringify(RUN_FORMAT));
      putMeta.run("formatVersion", JSON.stringify(RUN_FORMAT_VERSION));
      putMeta.run("createdAt", JSON.stringify(createdAt));
      putMeta.run("seed", JSON.stringify(seed));
      putMeta.run("model", JSON.stringify(opts.model));
      putMeta.run("code", JSON.stringify(currentCode()));
      if (opts.command) store.commandId = store.insertCommand(opts.command);
      db.prepare(`INSERT INTO _configs (created_at, hash, config, reason, command_id) VALUES (?, ?, ?, ?, ?)`).run(
        createdAt,
        fingerprint(config),
        JSON.stringify(config),
        "created",
        store.commandId,
      );
      db.pragma(`user_version = ${RUN_FORMAT_VERSION}`);
    }).immediate();
    store.writeConfigFile();
    store.writeManifest();
    return store;
  }

  /**
   * Opens an existing run. With `config` (and `model`, `seed`), refuses when they differ from the run's
   * in ways that change results, unless `force`. Without them, opens for inspection or resumption as is.
   */
  static open(path: string, opts: OpenOptions = {}): RunStore {
    const dir = runDirOf(path);
    if (!existsSync(dir)) throw new NotARunError(`no run at ${dir}: the directory does not exist`);
    if (!statSync(dir).isDirectory()) throw new NotARunError(`${dir} is a file, not a run directory`);
    const dbPath = join(dir, RUN_DB);
    if (!existsSync(dbPath)) {
      throw new NotARunError(
        `${dir} is not a tokensqueeze run: it has no ${RUN_DB} (a run directory holds ${RUN_DB}, ${RUN_CONFIG} and ${RUN_MANIFEST})`,
      );
    }
    const readonly_ = opts.readonly === true;
    let db: Database.Database;
    try {
      db = openDatabase(dbPath, readonly_);
      db.prepare(`SELECT count(*) FROM sqlite_master`).get();
    } catch (err) {
      throw new NotARunError(`${dbPath} cannot be opened as a SQLite database: ${err instanceof Error ? err.message : String(err)}`);
    }
    const store = new RunStore(dir, db, readonly_);
    try {
      store.checkFormat();
      if (!readonly_) store.reconcile(opts);
    } catch (err) {
      db.close();
      throw err;
    }
    return store;
  }

  /** Opens the run in `dir` if there is one (with the checks of `open`), otherwise creates it. */
  static openOrCreate(path: string, opts: CreateOptions & Omit<OpenOptions, "config" | "model" | "readonly">): RunStore {
    const dir = runDirOf(path);
    if (existsSync(join(dir, RUN_DB)) && !isEmptyDatabase(join(dir, RUN_DB))) return RunStore.open(dir, opts);
    return RunStore.create(dir, opts);
  }

  /** Whether `dir` looks like a run (has run.sqlite). Does not open it. */
  static isRun(path: string): boolean {
    return existsSync(join(runDirOf(path), RUN_DB));
  }

  private checkFormat(): void {
    const hasMeta = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_meta'`).get();
    if (!hasMeta) throw new NotARunError(`${this.dir} is not a tokensqueeze run: ${RUN_DB} has no run metadata`);
    const format = this.metaValue("format");
    if (format !== RUN_FORMAT) throw new NotARunError(`${this.dir} is not a tokensqueeze run (format ${JSON.stringify(format)})`);
    const version = this.metaValue("formatVersion");
    if (typeof version !== "number" || version > RUN_FORMAT_VERSION) {
      throw new NotARunError(`${this.dir} was written by a newer tokensqueeze (run format ${String(version)}; this one reads ${RUN_FORMAT_VERSION}): upgrade tokensqueeze`);
    }
  }

  /** Compares the command's settings with the run's; adopts them with force; starts the command record. */
  private reconcile(opts: OpenOptions): void {
    const volatile = opts.volatileConfigPaths ?? DEFAULT_VOLATILE_CONFIG_PATHS;
    const differences: JsonDifference[] = [];
    const newConfig = opts.config === undefined ? undefined : toJsonValue(opts.config, "the run config");
    if (newConfig !== undefined) {
      for (const d of diffJson(this.config as JsonValue, newConfig)) {
        if (!volatile.some((p) => matchPath(p, d.segments))) differences.push(d);
      }
    }
    if (opts.model) {
      checkModel(opts.model, this.dir);
      differences.push(...modelDifferences(this.model, opts.model));
    }
    const newSeed = newConfig === undefined ? opts.seed : resolveSeed(opts.seed, newConfig);
    if (newSeed !== undefined && newSeed !== this.seed && !differences.some((d) => d.path === "seed")) {
      differences.push({ path: "seed", segments: ["seed"], before: this.seed, after: newSeed });
    }
    if (differences.length > 0 && !opts.force) throw new ConfigMismatchError(this.dir, differences);

    this.db
      .transaction(() => {
        if (opts.command) this.commandId = this.insertCommand(opts.command);
        if (differences.length > 0) {
          const changed = differences.map((d) => d.path).join(", ");
          if (newConfig !== undefined) {
            this.db
              .prepare(`INSERT INTO _configs (created_at, hash, config, reason, command_id) VALUES (?, ?, ?, ?, ?)`)
              .run(now(), fingerprint(newConfig), JSON.stringify(newConfig), `forced: ${changed}`, this.commandId);
          }
          if (opts.model && modelDifferences(this.model, opts.model).length > 0) this.setMeta("model", opts.model);
          if (newSeed !== undefined && newSeed !== this.seed) this.setMeta("seed", checkSeed(newSeed, this.dir));
        }
      })
      .immediate();
    // Also repairs a config.json left stale or missing by a process killed between commit and file write.
    this.writeConfigFile();
    this.writeManifest();
  }

  // ── what the run is ──────────────────────────────────────────────────────────────────────────────

  /** The run seed: every item's generator derives from (seed, stage, key). */
  get seed(): number {
    return this.metaValue("seed") as number;
  }

  get model(): ModelIdentity {
    return this.metaValue("model") as unknown as ModelIdentity;
  }

  get createdAt(): string {
    return this.metaValue("createdAt") as string;
  }

  /** The config the run currently stands on (the latest adopted). */
  get config(): JsonValue {
    const row = this.db.prepare(`SELECT config FROM _configs ORDER BY id DESC LIMIT 1`).get() as { config: string };
    return JSON.parse(row.config) as JsonValue;
  }

  get configHash(): string {
    return (this.db.prepare(`SELECT hash FROM _configs ORDER BY id DESC LIMIT 1`).get() as { hash: string }).hash;
  }

  /** The id of this process's command in the history, when it registered one. */
  get currentCommandId(): number | null {
    return this.commandId;
  }

  manifest(): RunManifest {
    return {
      format: RUN_FORMAT,
      formatVersion: this.metaValue("formatVersion") as number,
      createdAt: this.createdAt,
      seed: this.seed,
      model: this.model,
      code: this.metaValue("code") as unknown as CodeVersion,
      configHash: this.configHash,
      configVersions: (this.db.prepare(`SELECT count(*) AS n FROM _configs`).get() as { n: number }).n,
      history: this.commands(),
    };
  }

  commands(): CommandRecord[] {
    const rows = this.db.prepare(`SELECT * FROM _commands ORDER BY id`).all() as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: r.id as number,
      argv: JSON.parse(r.argv as string) as string[],
      startedAt: r.started_at as string,
      endedAt: (r.ended_at as string | null) ?? null,
      status: r.status as CommandStatus,
      message: (r.message as string | null) ?? null,
      pid: r.pid as number,
      host: r.host as string,
      code: JSON.parse(r.code as string) as CodeVersion,
    }));
  }

  /** The command line that resumes the current command, for messages (started the way this process was). */
  resumeCommand(): string | null {
    if (this.commandId === null) return null;
    const row = this.db.prepare(`SELECT argv FROM _commands WHERE id = ?`).get(this.commandId) as { argv: string } | undefined;
    if (!row) return null;
    return commandLine(JSON.parse(row.argv) as string[]);
  }

  // ── record tables ────────────────────────────────────────────────────────────────────────────────

  /**
   * Binds a table declaration to this run: creates the table on first use, and refuses (TableSchemaError)
   * when the stored table has another version or shape than the code declares.
   */
  table<T extends object, K extends keyof T & string>(def: TableDef<T, K>): Table<T, K> {
    const cached = this.tableCache.get(def.name);
    if (cached && cached.def === (def as unknown)) return cached as unknown as Table<T, K>;
    const register = () => {
      const row = this.db.prepare(`SELECT shape FROM _tables WHERE name = ?`).get(def.name) as { shape: string } | undefined;
      const wanted = tableShape(def as unknown as AnyTableDef);
      if (row) {
        const stored = JSON.parse(row.shape) as ReturnType<typeof tableShape>;
        const problem = shapeDifference(stored, wanted);
        if (problem) {
          throw new TableSchemaError(
            `table "${def.name}" in run ${this.dir} does not match this version of tokensqueeze: ${problem}. ` +
              `The run was made by other code; use a new run directory.`,
          );
        }
        return;
      }
      if (this.readonly) throw new NotARunError(`run ${this.dir} has no table "${def.name}"`);
      for (const sql of createTableSql(def as unknown as AnyTableDef, def.name)) this.db.exec(sql);
      this.db
        .prepare(`INSERT INTO _tables (name, shape, owner_stage, archived_from, created_at) VALUES (?, ?, NULL, NULL, ?)`)
        .run(def.name, JSON.stringify({ ...wanted, indexes: def.indexes }), now());
    };
    if (this.readonly) register();
    else this.db.transaction(register).immediate();
    const table = new Table<T, K>(this.db, def);
    this.tableCache.set(def.name, table as unknown as AnyTable);
    return table;
  }

  /** Every record table in the run (archived ones included) with its row count. */
  tables(): TableInfo[] {
    const rows = this.db.prepare(`SELECT * FROM _tables ORDER BY name`).all() as Array<Record<string, unknown>>;
    return rows.map((r) => {
      const shape = JSON.parse(r.shape as string) as { version: number; key: string[]; columns: ColumnInfo[] };
      const name = r.name as string;
      return {
        name,
        version: shape.version,
        key: shape.key,
        columns: shape.columns,
        ownerStage: (r.owner_stage as string | null) ?? null,
        archivedFrom: (r.archived_from as string | null) ?? null,
        rows: (this.db.prepare(`SELECT count(*) AS n FROM ${quoteIdent(name)}`).get() as { n: number }).n,
      };
    });
  }

  /** Runs `fn` in one transaction (a savepoint when nested). */
  transaction<R>(fn: () => R): R {
    return this.db.transaction(fn)();
  }

  // ── stages (used by the stage runner; readable by anyone) ────────────────────────────────────────

  stages(): StageInfo[] {
    const rows = this.db.prepare(`SELECT name FROM _stages ORDER BY started_at, name`).all() as Array<{ name: string }>;
    return rows.map((r) => this.stage(r.name)!);
  }

  stage(name: string): StageInfo | undefined {
    const r = this.db.prepare(`SELECT * FROM _stages WHERE name = ?`).get(name) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    const counts = this.db
      .prepare(`SELECT status, count(*) AS n, sum(records) AS records FROM _items WHERE stage = ? GROUP BY status`)
      .all(name) as Array<{ status: string; n: number; records: number | null }>;
    const ok = counts.find((c) => c.status === "ok");
    const status = r.status as StageStatus;
    const ownerPid = (r.owner_pid as number | null) ?? null;
    const ownerHost = (r.owner_host as string | null) ?? null;
    return {
      name,
      status,
      paramsHash: r.params_hash as string,
      params: JSON.parse(r.params as string) as JsonValue,
      total: (r.total as number | null) ?? null,
      done: ok?.n ?? 0,
      failed: counts.find((c) => c.status === "error")?.n ?? 0,
      records: ok?.records ?? 0,
      tables: JSON.parse(r.tables as string) as string[],
      startedAt: (r.started_at as string | null) ?? null,
      updatedAt: (r.updated_at as string | null) ?? null,
      finishedAt: (r.finished_at as string | null) ?? null,
      ownerPid,
      ownerHost,
      ownerGone: status === "running" && ownerPid !== null && ownerHost === hostname() && !processAlive(ownerPid),
      lastError: (r.last_error as string | null) ?? null,
      archivedFrom: (r.archived_from as string | null) ?? null,
    };
  }

  /**
   * The fingerprint of a stage's parameters (and seed and model), for a downstream stage to include in
   * its own parameters: when the upstream stage is redone differently, the downstream one sees a change.
   */
  stageFingerprint(name: string): string | undefined {
    return this.stage(name)?.paramsHash;
  }

  /** Keys of the stage's finished items: ok ones, and those that failed when `includeErrors`. */
  doneKeys(stage: string, opts: { includeErrors?: boolean } = {}): Set<string> {
    const sql = opts.includeErrors ? `SELECT key FROM _items WHERE stage = ?` : `SELECT key FROM _items WHERE stage = ? AND status = 'ok'`;
    const keys = new Set<string>();
    for (const row of this.db.prepare(sql).pluck().iterate(stage)) keys.add(row as string);
    return keys;
  }

  /** Errors recorded for a stage's items (the latest per item). */
  itemErrors(stage: string): Array<{ key: string; error: string; finishedAt: string }> {
    return this.db
      .prepare(`SELECT key, error, finished_at AS finishedAt FROM _items WHERE stage = ? AND status = 'error' ORDER BY key`)
      .all(stage) as Array<{ key: string; error: string; finishedAt: string }>;
  }

  /**
   * Sets a stage's records aside: its tables are renamed `<table>__archived_<n>`, its item rows move to
   * stage `<stage>__archived_<n>`, and empty tables of the same shape take their place. Nothing is deleted.
   * Returns the archive name, or null when the stage has never run.
   */
  archiveStage(name: string): string | null {
    this.assertWritable();
    return this.db
      .transaction(() => {
        const info = this.stage(name);
        if (!info) return null;
        const n =
          (this.db.prepare(`SELECT count(*) AS n FROM _stages WHERE archived_from = ?`).get(name) as { n: number }).n + 1;
        const archived = `${name}__archived_${n}`;
        for (const table of info.tables) {
          const row = this.db.prepare(`SELECT shape FROM _tables WHERE name = ?`).get(table) as { shape: string } | undefined;
          if (!row) continue;
          const archivedTable = `${table}__archived_${n}`;
          const indexes = this.db
            .prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`)
            .pluck()
            .all(table) as string[];
          // Index names are global: drop them so the fresh table can create its own under the same names.
          for (const idx of indexes) this.db.exec(`DROP INDEX ${quoteIdent(idx)}`);
          this.db.exec(`ALTER TABLE ${quoteIdent(table)} RENAME TO ${quoteIdent(archivedTable)}`);
          // The original name is free again: the next store.table(def) creates it with the declared shape
          // (which may be a new version: archiving is also how a run moves to a new record shape).
          this.db.prepare(`UPDATE _tables SET name = ?, owner_stage = ?, archived_from = ? WHERE name = ?`).run(archivedTable, archived, table, table);
          this.tableCache.delete(table);
        }
        this.db.prepare(`UPDATE _items SET stage = ? WHERE stage = ?`).run(archived, name);
        this.db
          .prepare(`UPDATE _stages SET name = ?, status = 'archived', archived_from = ?, tables = ? WHERE name = ?`)
          .run(archived, name, JSON.stringify(info.tables.map((t) => `${t}__archived_${n}`)), name);
        return archived;
      })
      .immediate();
  }

  // ── ending ───────────────────────────────────────────────────────────────────────────────────────

  /** Records how this process's command ended (idempotent: the first call wins). */
  finishCommand(status: Exclude<CommandStatus, "running">, message?: string): void {
    if (this.readonly || this.commandId === null || this.closed) return;
    this.db
      .prepare(`UPDATE _commands SET ended_at = ?, status = ?, message = ? WHERE id = ? AND status = 'running'`)
      .run(now(), status, message ?? null, this.commandId);
    this.writeManifest();
  }

  /** Ends the command (status "ok" unless `finishCommand` was called) and closes the database. */
  close(outcome: { status: Exclude<CommandStatus, "running">; message?: string } = { status: "ok" }): void {
    if (this.closed) return;
    this.finishCommand(outcome.status, outcome.message);
    this.closed = true;
    this.db.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────────────

  /** @internal */
  assertWritable(): void {
    if (this.readonly) throw new Error(`run ${this.dir} is open read-only`);
    if (this.closed) throw new Error(`run ${this.dir} is closed`);
  }

  private insertCommand(cmd: CommandInfo): number {
    const info = this.db
      .prepare(`INSERT INTO _commands (argv, started_at, status, pid, host, code) VALUES (?, ?, 'running', ?, ?, ?)`)
      .run(JSON.stringify([...cmd.argv]), now(), process.pid, hostname(), JSON.stringify(currentCode()));
    return Number(info.lastInsertRowid);
  }

  private metaStmt: Database.Statement | undefined;

  private metaValue(key: string): JsonValue | undefined {
    this.metaStmt ??= this.db.prepare(`SELECT value FROM _meta WHERE key = ?`);
    const row = this.metaStmt.get(key) as { value: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.value) as JsonValue);
  }

  private setMeta(key: string, value: unknown): void {
    this.db.prepare(`INSERT INTO _meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(key, JSON.stringify(value));
  }

  private writeConfigFile(): void {
    const path = join(this.dir, RUN_CONFIG);
    const text = JSON.stringify(this.config, null, 2) + "\n";
    if (existsSync(path) && readFileSync(path, "utf8") === text) return;
    writeFileAtomic(path, text);
  }

  /** @internal rewrites run.json from run.sqlite. */
  writeManifest(): void {
    if (this.readonly) return;
    writeFileAtomic(join(this.dir, RUN_MANIFEST), JSON.stringify(this.manifest(), null, 2) + "\n");
  }
}

function openDatabase(path: string, readonly_: boolean): Database.Database {
  const db = new Database(path, { readonly: readonly_, fileMustExist: readonly_ });
  db.pragma("busy_timeout = 10000");
  if (!readonly_) {
    db.pragma("journal_mode = WAL");
    // In WAL mode NORMAL keeps every committed transaction across a process kill (SIGKILL); only an OS crash
    // or power loss can roll back the last few commits, and the database stays consistent either way.
    db.pragma("synchronous = NORMAL");
  }
  return db;
}

function isEmptyDatabase(path: string): boolean {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare(`SELECT count(*) AS n FROM sqlite_master`).get() as { n: number }).n === 0;
    } finally {
      db.close();
    }
  } catch {
    return false;
  }
}

function shapeDifference(
  stored: { version: number; key: readonly string[]; columns: readonly ColumnInfo[] },
  wanted: { version: number; key: readonly string[]; columns: readonly ColumnInfo[] },
): string | null {
  if (stored.version !== wanted.version) return `stored version ${stored.version}, declared version ${wanted.version}`;
  if (stored.key.join(",") !== wanted.key.join(",")) return `stored key (${stored.key.join(", ")}), declared key (${wanted.key.join(", ")})`;
  const describe = (c: ColumnInfo) => `${c.name}:${c.type}${c.optional ? "?" : ""}`;
  const s = new Set(stored.columns.map(describe));
  const w = new Set(wanted.columns.map(describe));
  const missing = [...w].filter((c) => !s.has(c));
  const extra = [...s].filter((c) => !w.has(c));
  if (missing.length || extra.length) {
    return `columns differ (stored only: ${extra.join(", ") || "none"}; declared only: ${missing.join(", ") || "none"}) under the same version`;
  }
  return null;
}

