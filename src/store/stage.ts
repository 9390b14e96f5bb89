/**
 * The resumable stage runner: applies `process` to work items with bounded concurrency and stores what it
 * returns, so that a stage killed at any moment and started again continues where it stopped and ends with
 * exactly the records an uninterrupted run would have produced.
 *
 * Guarantees
 * - Atomic items: an item's records (in the output table and any table written through `ctx.put`) and its
 *   "done" mark in `_items` are committed in the same transaction. A killed run (SIGKILL) loses only the
 *   items not yet committed: those in flight, plus finished ones waiting for the next commit (at most
 *   `batchSize` items or `flushIntervalMs` of work). Committed work survives (WAL, synchronous=NORMAL).
 * - Resume: items whose key is done are skipped; items whose error was recorded are retried (unless
 *   `retryErrors: false`).
 * - Determinism: each item gets `ctx.rng`, seeded by deriveSeed(run seed, stage, key), and `ctx.seedFor(...)`
 *   for further seeds (e.g. an engine's per-request seed). Use nothing else for randomness and results do
 *   not depend on order, concurrency, batching or resumption. Reads are in key order.
 * - No silent mixing: the stage's fingerprint covers `params`, the run seed, the model identity and the output
 *   table's version. Re-running with another fingerprint over stored items refuses (StageParamsChangedError),
 *   or with `onParamsChange: "archive"` sets the old records aside first (renamed, never deleted).
 * - No silent overwrite: a record whose key is stored already must be identical (`onConflict: "verify"`);
 *   a difference fails that item only (RecordConflictError), the rest of the batch commits.
 * - Failures: `onItemError: "stop"` (default) records the item's error, stops scheduling, lets the items in
 *   flight finish and commit, and throws StageFailedError naming the item; `"record"` records the error and
 *   goes on (up to `maxErrors`), and the stage ends "complete-with-errors".
 * - Interruption: on SIGINT/SIGTERM (or `signal` aborting) scheduling stops, items in flight get
 *   `interruptGraceMs` to finish (then their `ctx.signal` aborts and they are dropped, to be redone on resume),
 *   finished work is committed, and StageInterruptedError (exit code 130, 143 for SIGTERM) carries the
 *   resume command. A second signal commits what is finished and exits the process at once.
 * - One runner per stage: a stage that another live process is running refuses to start (StageBusyError).
 *
 * For stage authors
 *
 *   const samplesTable = defineTable<SampleRecord>()({ name: "samples", version: 1,
 *     key: ["problemId", "sampleIndex"], columns: { ... } });
 *
 *   await runStage({
 *     store, stage: "sample",
 *     params: { n: cfg.sample.n, temperature: cfg.sample.temperature, maxTokens: cfg.sample.maxTokens },
 *     items: problems, keyOf: (p) => p.id,
 *     output: samplesTable,
 *     concurrency: cfg.engine.concurrency,
 *     process: async (p, ctx) => {
 *       const r = await engine.generate({ prompt: p.question, n: cfg.sample.n, seed: ctx.seedFor("generate"), ... },
 *                                       { signal: ctx.signal });
 *       return r.completions.map((c) => ({ problemId: p.id, sampleIndex: c.index, text: c.text, ... }));
 *     },
 *     progress: createProgress({ mode: progressModeFrom(opts) }),
 *   });
 *
 * A downstream stage includes `store.stageFingerprint("sample")` in its params, so redoing the upstream stage
 * differently is seen as a parameter change downstream too. Add a `stageVersion` to params when the
 * algorithm changes in a way that changes results.
 */
import { hostname } from "node:os";
import { UserError, errorMessage } from "../util/errors.js";
import { silentProgress, type ProgressReporter } from "../util/progress.js";
import { deriveSeed, Rng } from "../util/rng.js";
import { diffJson, fingerprint, formatDifferences, toJsonValue, type JsonValue } from "./json.js";
import { processAlive, type RunStore } from "./run-store.js";
import { Table, type AnyRecord, type AnyTable, type AnyTableDef, type OnConflict, type TableDef } from "./table.js";

export interface ItemContext {
  readonly stage: string;
  /** The item's key, as returned by keyOf. */
  readonly key: string;
  /** This item's own generator, seeded by (run seed, stage, key). */
  readonly rng: Rng;
  /** The seed of `rng`. */
  readonly seed: number;
  /** A further seed derived from (run seed, stage, key, ...parts): for engine requests, sub-samples. */
  seedFor(...parts: Array<string | number>): number;
  /** Aborts when the stage is interrupted and the grace period is over: pass it to engine calls. */
  readonly signal: AbortSignal;
  /** Stores records in another table, committed atomically with this item's output. */
  put<T extends object, K extends keyof T & string>(table: TableDef<T, K> | Table<T, K>, records: Iterable<T>): void;
}

export type ItemSource<I> = Iterable<I> | AsyncIterable<I>;

export interface StageOptions<I, R extends object, RK extends keyof R & string> {
  store: RunStore;
  /** Stage name: part of every item's seed, so renaming a stage changes its results. */
  stage: string;
  /** Everything (besides seed and model, added automatically) that determines this stage's records. */
  params?: unknown;
  /** When stored items were made with another fingerprint: refuse ("error", default) or archive them. */
  onParamsChange?: "error" | "archive";
  items: ItemSource<I>;
  /** Number of items, for progress, when `items` is not an array. */
  total?: number;
  /** The item's natural key (unique among the items; the unit of resumption). */
  keyOf: (item: I) => string;
  /** The table `process`'s records go to. */
  output: TableDef<R, RK> | Table<R, RK>;
  /** The work for one item: return its records (possibly none). Must not write to the store itself. */
  process: (item: I, ctx: ItemContext) => Promise<Iterable<R>> | Iterable<R>;
  /** Items in flight at once (default 1). */
  concurrency?: number;
  /** Commit after this many finished items (default 64)… */
  batchSize?: number;
  /** …or when the oldest uncommitted item finished this long ago (default 1000 ms). */
  flushIntervalMs?: number;
  onItemError?: "stop" | "record";
  /** With "record": stop (StageFailedError) after this many failures in this run (default unlimited). */
  maxErrors?: number;
  /** Retry items whose error a previous run recorded (default true). */
  retryErrors?: boolean;
  onConflict?: OnConflict;
  /** Aborting it interrupts the stage like SIGINT does. */
  signal?: AbortSignal;
  /** Install SIGINT/SIGTERM handlers for the duration of the stage (default true). */
  handleSignals?: boolean;
  /** How long items in flight may run on after an interruption before their ctx.signal aborts (default 10 s). */
  interruptGraceMs?: number;
  progress?: ProgressReporter;
  /** The command that resumes this work, for messages; default: this command as recorded in the run. */
  resumeCommand?: string;
}

export type StageResultStatus = "complete" | "complete-with-errors";

export interface StageResult {
  stage: string;
  status: StageResultStatus;
  /** Items in the source. */
  total: number;
  /** Items skipped because an earlier run had finished them. */
  resumed: number;
  /** Items finished and committed by this run. */
  processed: number;
  /** Items that failed in this run (errors recorded). */
  failed: number;
  /** Records this run added to the output table (records already stored are not counted). */
  records: number;
  elapsedMs: number;
  /** processed / elapsed. */
  itemsPerSecond: number;
}

/** The stage stopped because of SIGINT/SIGTERM or an aborted signal; everything finished is committed. */
export class StageInterruptedError extends UserError {
  constructor(
    readonly stage: string,
    readonly done: number,
    readonly total: number | null,
    readonly reason: string,
    readonly resumeCommand: string | null,
    exitCode: number,
  ) {
    super(
      `${reason}: stage "${stage}" stopped after ${done}${total !== null ? ` of ${total}` : ""} items; all finished work is saved.\n` +
        `Resume with: ${resumeCommand ?? "the same command"}`,
      exitCode,
    );
    this.name = "StageInterruptedError";
  }
}

/** An item failed (onItemError "stop", or more than maxErrors); everything else finished is committed. */
export class StageFailedError extends UserError {
  constructor(
    readonly stage: string,
    readonly key: string,
    readonly itemError: string,
    readonly done: number,
    readonly total: number | null,
    readonly resumeCommand: string | null,
    tooMany = false,
  ) {
    super(
      `stage "${stage}" ${tooMany ? "stopped after too many failed items; the last" : "failed at"} item "${key}": ${itemError}\n` +
        `${done}${total !== null ? ` of ${total}` : ""} items are done and saved. After fixing the cause, resume with: ${resumeCommand ?? "the same command"}`,
      1,
    );
    this.name = "StageFailedError";
  }
}

export class StageParamsChangedError extends UserError {
  constructor(
    readonly stage: string,
    readonly dir: string,
    detail: string,
    storedItems: number,
  ) {
    super(
      `stage "${stage}" in run ${dir} holds ${storedItems} items made with other parameters:\n${detail}\n` +
        `Continuing would mix records made both ways. Use a new run directory, or pass --force to set the old ` +
        `records aside (archived as "${stage}__archived_<n>", nothing is deleted) and start the stage afresh.`,
      2,
    );
    this.name = "StageParamsChangedError";
  }
}

export class StageBusyError extends UserError {
  constructor(stage: string, dir: string, pid: number, host: string, since: string | null) {
    super(`stage "${stage}" in run ${dir} is being run by process ${pid} on ${host}${since ? ` (since ${since})` : ""}; wait for it or stop it first`, 2);
    this.name = "StageBusyError";
  }
}

/** Stages running in this process (keyed by run dir and stage), to refuse a second concurrent runner. */
const runningHere = new Set<string>();

interface FinishedOk {
  key: string;
  ok: true;
  writes: Map<AnyTable, unknown[][]>;
  records: number;
  finishedAt: number;
}
interface FinishedError {
  key: string;
  ok: false;
  error: string;
  finishedAt: number;
}
type Finished = FinishedOk | FinishedError;

type StopReason =
  | { kind: "signal"; signal: NodeJS.Signals }
  | { kind: "abort" }
  | { kind: "error"; key: string; error: string; tooMany: boolean }
  | { kind: "fatal"; error: unknown };

function isAsyncIterable<I>(x: ItemSource<I>): x is AsyncIterable<I> {
  return typeof (x as AsyncIterable<I>)[Symbol.asyncIterator] === "function";
}

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!(Number.isInteger(x) && x >= 1) && x !== Infinity) throw new Error(`runStage: ${name} must be a positive integer, got ${x}`);
  return x;
}

const STAGE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

export async function runStage<I, R extends object, RK extends keyof R & string>(opts: StageOptions<I, R, RK>): Promise<StageResult> {
  const { store, stage } = opts;
  if (!STAGE_NAME.test(stage) || stage.includes("__")) throw new Error(`runStage: stage name "${stage}" must match ${STAGE_NAME} without "__"`);
  store.assertWritable();
  const concurrency = positiveInt("concurrency", opts.concurrency, 1);
  const batchSize = positiveInt("batchSize", opts.batchSize, 64);
  const flushIntervalMs = opts.flushIntervalMs ?? 1000;
  const onItemError = opts.onItemError ?? "stop";
  const maxErrors = opts.maxErrors ?? Infinity;
  const onConflict = opts.onConflict ?? "verify";
  const graceMs = opts.interruptGraceMs ?? 10_000;
  const progress = opts.progress ?? silentProgress;
  const outputDef = (opts.output instanceof Table ? opts.output.def : opts.output) as TableDef<R, RK>;
  const total = Array.isArray(opts.items) ? opts.items.length : (opts.total ?? null);

  const lockKey = `${store.dir}\u0000${stage}`;
  if (runningHere.has(lockKey)) throw new Error(`runStage: stage "${stage}" is already running in this process`);

  const fingerprintInput = {
    params: toJsonValue(opts.params ?? null, `the parameters of stage "${stage}"`),
    seed: store.seed,
    model: toJsonValue(store.model, "the model identity"),
    output: { table: outputDef.name, version: outputDef.version },
  };
  const paramsHash = fingerprint(fingerprintInput);
  const output = beginStage(store, stage, paramsHash, fingerprintInput, total, opts.onParamsChange ?? "error", outputDef);
  runningHere.add(lockKey);
  const resumeCommand = opts.resumeCommand ?? store.resumeCommand();

  const done = store.doneKeys(stage, { includeErrors: opts.retryErrors === false });
  const claimed = new Set<string>([outputDef.name]);
  const upsertItem = store.db.prepare(
    `INSERT INTO _items (stage, key, status, error, records, finished_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (stage, key) DO UPDATE SET status = excluded.status, error = excluded.error,
       records = excluded.records, finished_at = excluded.finished_at
     WHERE _items.status = 'error'`,
  );
  const touchStage = store.db.prepare(`UPDATE _stages SET updated_at = ?, last_error = coalesce(?, last_error) WHERE name = ?`);

  const runSeed = store.seed; // read once: it is fixed while the stage runs
  const startedAt = Date.now();
  let resumed = 0;
  let processed = 0;
  let failedNow = 0;
  let failedTotal = 0; // failures counted in progress (this run)
  let recordsNow = 0;
  let seen = 0;
  const seenKeys = new Set<string>();
  const pending: Finished[] = [];
  const inflight = new Map<string, { controller: AbortController; promise: Promise<void> }>();
  let stop: StopReason | null = null;
  let graceTimer: NodeJS.Timeout | null = null;

  // Notices about signals must reach the user even when progress output is off.
  const notify = (message: string) => {
    if (progress === silentProgress) process.stderr.write(message + "\n");
    else progress.log(message);
  };
  const report = () => progress.update({ done: resumed + processed + failedTotal, failed: failedTotal, resumed });

  const abortInflight = () => {
    for (const { controller } of inflight.values()) controller.abort(new Error("stage interrupted"));
  };

  const requestStop = (reason: StopReason) => {
    if (stop) return;
    stop = reason;
    if (reason.kind === "fatal") abortInflight();
    else if (inflight.size > 0) {
      graceTimer = setTimeout(abortInflight, graceMs);
      graceTimer.unref();
    }
  };

  /** One item's writes and done mark; run as a savepoint inside the batch so a bad item cannot sink it. */
  const commitItem = store.db.transaction((f: FinishedOk, ts: string) => {
    let added = 0;
    for (const [table, rows] of f.writes) {
      const r = table.insertEncoded(rows, onConflict);
      if (table === (output as unknown)) added += r.inserted;
    }
    upsertItem.run(stage, f.key, "ok", null, f.records, ts);
    recordsNow += added;
  });
  const commitBatch = store.db.transaction((batch: Finished[]) => {
    const ts = new Date().toISOString();
    let lastError: string | null = null;
    for (const f of batch) {
      if (f.ok) {
        try {
          commitItem(f, ts);
          processed++;
        } catch (err) {
          const message = errorMessage(err);
          upsertItem.run(stage, f.key, "error", message, 0, ts);
          lastError = `${f.key}: ${message}`;
          noteFailure(f.key, message);
        }
      } else {
        upsertItem.run(stage, f.key, "error", f.error, 0, ts);
        lastError = `${f.key}: ${f.error}`;
      }
    }
    touchStage.run(ts, lastError, stage);
  });

  /** Commits finished items: one write transaction per batch. */
  const flush = () => {
    if (pending.length === 0) return;
    commitBatch.immediate(pending.splice(0, pending.length));
    report();
  };

  const safeFlush = () => {
    try {
      flush();
    } catch (err) {
      requestStop({ kind: "fatal", error: err });
    }
  };

  function noteFailure(key: string, message: string) {
    failedNow++;
    failedTotal++;
    if (onItemError === "stop") requestStop({ kind: "error", key, error: message, tooMany: false });
    else if (failedNow >= maxErrors) requestStop({ kind: "error", key, error: message, tooMany: true });
  }

  const maybeFlush = () => {
    if (pending.length >= batchSize || (pending.length > 0 && Date.now() - pending[0].finishedAt >= flushIntervalMs)) safeFlush();
  };

  const flushTimer = setInterval(maybeFlush, Math.max(10, Math.min(250, flushIntervalMs)));
  flushTimer.unref();

  const runItem = async (item: I, key: string, controller: AbortController): Promise<void> => {
    const writes = new Map<AnyTable, unknown[][]>();
    const seed = deriveSeed(runSeed, stage, key);
    const ctx: ItemContext = {
      stage,
      key,
      rng: new Rng(seed),
      seed,
      seedFor: (...parts) => deriveSeed(runSeed, stage, key, ...parts),
      signal: controller.signal,
      put: (tableOrDef, records) => {
        const def = (tableOrDef instanceof Table ? tableOrDef.def : tableOrDef) as AnyTableDef;
        if (!claimed.has(def.name)) {
          claimTable(store, stage, def.name, () => store.table(def));
          claimed.add(def.name);
        }
        const table = store.table(def);
        const rows = Array.from(records, (r) => table.encode(r as unknown as AnyRecord));
        const list = writes.get(table) ?? [];
        list.push(...rows);
        writes.set(table, list);
      },
    };
    try {
      const result = await opts.process(item, ctx);
      if (result === undefined || result === null || typeof (result as Iterable<R>)[Symbol.iterator] !== "function") {
        throw new Error(`process returned ${result === null ? "null" : typeof result}, not a list of records (return [] for none)`);
      }
      const rows = Array.from(result, (r) => output.encode(r));
      const list = writes.get(output as unknown as AnyTable) ?? [];
      writes.set(output as unknown as AnyTable, [...rows, ...list]);
      pending.push({ key, ok: true, writes, records: rows.length, finishedAt: Date.now() });
    } catch (err) {
      if (controller.signal.aborted && stop !== null) return; // interrupted: redone on resume, not a failure
      const message = errorMessage(err);
      pending.push({ key, ok: false, error: message, finishedAt: Date.now() });
      noteFailure(key, message);
    } finally {
      inflight.delete(key);
    }
    maybeFlush();
  };

  // Signals: the first stops scheduling and drains; a second commits what is finished and exits at once.
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === "SIGTERM" ? 143 : 130;
    if (stop === null) {
      notify(
        `\n${signal}: stopping stage "${stage}": finishing ${inflight.size} item(s) in flight and saving (press Ctrl-C again to quit at once; saved work is kept)`,
      );
      requestStop({ kind: "signal", signal });
      return;
    }
    try {
      flush();
      endStage(store, stage, "interrupted", null);
      store.finishCommand("interrupted", `${signal} twice`);
    } catch {
      // Exiting anyway: whatever was committed stays committed.
    }
    notify(`${signal} again: quitting now; work committed so far is kept. Resume with: ${resumeCommand ?? "the same command"}`);
    process.exit(code);
  };
  const handleSignals = opts.handleSignals ?? true;
  if (handleSignals) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  const onAbort = () => requestStop({ kind: "abort" });
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener("abort", onAbort);

  progress.stageStart({ stage, total });
  try {
    const iterator = isAsyncIterable(opts.items) ? opts.items[Symbol.asyncIterator]() : opts.items[Symbol.iterator]();
    let exhausted = false;
    schedule: while (stop === null) {
      while (inflight.size >= concurrency) {
        await Promise.race([...inflight.values()].map((f) => f.promise));
        if (stop !== null) break schedule;
      }
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const item = next.value;
      const key = opts.keyOf(item);
      if (typeof key !== "string" || key === "") throw new Error(`runStage "${stage}": keyOf returned ${JSON.stringify(key)} for item #${seen}; keys must be non-empty strings`);
      if (seenKeys.has(key)) throw new Error(`runStage "${stage}": two items have the key "${key}"; keys must be unique`);
      seenKeys.add(key);
      seen++;
      if (done.has(key)) {
        resumed++;
        if (resumed % 256 === 0) report();
        continue;
      }
      // In the map before the item starts: an item that fails synchronously removes itself at once.
      const entry = { controller: new AbortController(), promise: Promise.resolve() };
      inflight.set(key, entry);
      entry.promise = runItem(item, key, entry.controller);
    }
    // Stopped early: let a generator source release what it holds.
    if (!exhausted) await iterator.return?.();
    await Promise.all([...inflight.values()].map((f) => f.promise));
    safeFlush();
  } catch (err) {
    // A bug in keyOf or the item source: stop, commit what finished, then report this error.
    stop = { kind: "fatal", error: err };
    abortInflight();
    await Promise.all([...inflight.values()].map((f) => f.promise));
    try {
      flush();
    } catch {
      // the original error matters more
    }
  } finally {
    clearInterval(flushTimer);
    if (graceTimer) clearTimeout(graceTimer);
    if (handleSignals) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    opts.signal?.removeEventListener("abort", onAbort);
    runningHere.delete(lockKey);
  }

  const finalTotal = total ?? seen;
  const doneCount = resumed + processed + failedTotal;
  const end = (status: string) => progress.stageEnd({ status, done: doneCount, failed: failedTotal, resumed, total: finalTotal });
  const stopped = stop as StopReason | null;
  if (stopped !== null) {
    switch (stopped.kind) {
      case "fatal":
        endStage(store, stage, "failed", errorMessage(stopped.error));
        end("failed");
        throw stopped.error;
      case "error":
        endStage(store, stage, "failed", `${stopped.key}: ${stopped.error}`);
        end("failed");
        throw new StageFailedError(stage, stopped.key, stopped.error, resumed + processed, finalTotal, resumeCommand, stopped.tooMany);
      case "signal":
      case "abort": {
        endStage(store, stage, "interrupted", null);
        end("interrupted");
        const reason = stopped.kind === "signal" ? `interrupted by ${stopped.signal}` : "interrupted";
        const code = stopped.kind === "signal" && stopped.signal === "SIGTERM" ? 143 : 130;
        throw new StageInterruptedError(stage, resumed + processed, total, reason, resumeCommand, code);
      }
    }
  }
  const status: StageResultStatus = store.stage(stage)!.failed > 0 ? "complete-with-errors" : "complete";
  endStage(store, stage, status, null);
  end(status);
  const elapsedMs = Date.now() - startedAt;
  return {
    stage,
    status,
    total: finalTotal,
    resumed,
    processed,
    failed: failedNow,
    records: recordsNow,
    elapsedMs,
    itemsPerSecond: elapsedMs > 0 ? processed / (elapsedMs / 1000) : 0,
  };
}

/**
 * Claims the stage (refusing when another live process runs it), compares its fingerprint with the stored
 * one (refusing, or archiving the old records), and marks it running.
 */
function beginStage<R extends object, RK extends keyof R & string>(
  store: RunStore,
  stage: string,
  paramsHash: string,
  fingerprintInput: Record<string, unknown>,
  total: number | null,
  onParamsChange: "error" | "archive",
  outputDef: TableDef<R, RK>,
): Table<R, RK> {
  const outputTable = outputDef.name;
  const host = hostname();
  // One write transaction from the check to marking the stage running: two processes starting the same
  // stage at once cannot both pass the check. A refusal anywhere rolls everything back (archive included).
  return store.db
    .transaction(() => {
      let existing = store.stage(stage);
      if (existing && existing.status === "running" && existing.ownerPid !== null && existing.ownerPid !== process.pid) {
        const alive = existing.ownerHost === host ? processAlive(existing.ownerPid) : true;
        if (alive) throw new StageBusyError(stage, store.dir, existing.ownerPid, existing.ownerHost ?? "?", existing.startedAt);
      }
      if (existing && existing.paramsHash !== paramsHash && existing.done + existing.failed > 0) {
        if (onParamsChange !== "archive") {
          const detail = formatDifferences(diffJson(existing.params, fingerprintInput as JsonValue));
          throw new StageParamsChangedError(stage, store.dir, detail, existing.done + existing.failed);
        }
        store.archiveStage(stage);
        existing = undefined;
      }
      // Bind (create or check) the output table before marking the stage running: a shape mismatch
      // refuses without touching anything.
      const output = store.table(outputDef);
      const ts = new Date().toISOString();
      const tables = new Set(existing?.tables ?? []);
      tables.add(outputTable);
      store.db
        .prepare(
          `INSERT INTO _stages (name, params_hash, params, status, total, tables, started_at, updated_at, finished_at,
             owner_pid, owner_host, command_id, last_error)
           VALUES (?, ?, ?, 'running', ?, ?, ?, ?, NULL, ?, ?, ?, NULL)
           ON CONFLICT (name) DO UPDATE SET params_hash = excluded.params_hash, params = excluded.params,
             status = 'running', total = excluded.total, tables = excluded.tables, started_at = excluded.started_at,
             updated_at = excluded.updated_at, finished_at = NULL, owner_pid = excluded.owner_pid,
             owner_host = excluded.owner_host, command_id = excluded.command_id, last_error = NULL`,
        )
        .run(stage, paramsHash, JSON.stringify(fingerprintInput), total, JSON.stringify([...tables]), ts, ts, process.pid, host, store.currentCommandId);
      claimTable(store, stage, outputTable, null);
      return output;
    })
    .immediate();
}

/** Makes `stage` the owner of `table` (creating it first via `ensure`); a table has one owner stage. */
function claimTable(store: RunStore, stage: string, table: string, ensure: (() => unknown) | null): void {
  ensure?.();
  store.db
    .transaction(() => {
      const row = store.db.prepare(`SELECT owner_stage FROM _tables WHERE name = ?`).get(table) as { owner_stage: string | null } | undefined;
      if (row && row.owner_stage !== null && row.owner_stage !== stage) {
        throw new Error(`table "${table}" belongs to stage "${row.owner_stage}"; stage "${stage}" cannot write to it`);
      }
      if (row) store.db.prepare(`UPDATE _tables SET owner_stage = ? WHERE name = ?`).run(stage, table);
      const s = store.db.prepare(`SELECT tables FROM _stages WHERE name = ?`).get(stage) as { tables: string } | undefined;
      if (s) {
        const tables = new Set(JSON.parse(s.tables) as string[]);
        if (!tables.has(table)) {
          tables.add(table);
          store.db.prepare(`UPDATE _stages SET tables = ? WHERE name = ?`).run(JSON.stringify([...tables]), stage);
        }
      }
    })
    .immediate();
}

function endStage(store: RunStore, stage: string, status: string, lastError: string | null): void {
  const ts = new Date().toISOString();
  store.db
    .prepare(`UPDATE _stages SET status = ?, updated_at = ?, finished_at = ?, last_error = coalesce(?, last_error) WHERE name = ?`)
    .run(status, ts, ts, lastError, stage);
}
