import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ConfigMismatchError, defineTable, NotARunError, RunStore, type RunManifest } from "../../src/store/index.js";
import { UserError } from "../../src/util/errors.js";
import { packageVersion } from "../../src/util/version.js";
import { tempDir } from "../helpers.js";

const config = {
  seed: 11,
  engine: { kind: "openai", model: "http://localhost:8000/v1", concurrency: 16 },
  sample: { n: 32, temperature: 0.9, topP: 1 },
  datasets: [{ name: "math500" }],
};
const model = { name: "deepseek-r1-distill-qwen-7b", engine: "vllm" };

const notes = defineTable<{ id: string; text: string }>()({ name: "notes", version: 1, key: ["id"], columns: { id: "text", text: "text" } });

function newRunDir(): string {
  return join(tempDir("ts-run-"), "run");
}

function manifestOf(dir: string): RunManifest {
  return JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as RunManifest;
}

describe("creating a run", () => {
  it("writes run.sqlite, the config snapshot and a manifest with code version, model, time and history", () => {
    const dir = newRunDir();
    const before = Date.now();
    const store = RunStore.create(dir, { config, model, command: { argv: ["sample", "--run", dir] } });
    store.close();
    expect(existsSync(join(dir, "run.sqlite"))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))).toEqual(config);
    const m = manifestOf(dir);
    expect(m.format).toBe("tokensqueeze-run");
    expect(m.seed).toBe(11);
    expect(m.model).toEqual(model);
    expect(m.code.version).toBe(packageVersion());
    expect(Date.parse(m.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(m.configHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(m.history).toHaveLength(1);
    expect(m.history[0]).toMatchObject({ argv: ["sample", "--run", dir], status: "ok", pid: process.pid });
    expect(m.history[0].endedAt).not.toBeNull();
  });

  it("uses WAL with synchronous=NORMAL", () => {
    const store = RunStore.create(newRunDir(), { config, model });
    expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(store.db.pragma("synchronous", { simple: true })).toBe(1);
    expect(store.db.pragma("busy_timeout", { simple: true })).toBeGreaterThan(0);
    store.close();
  });

  it("needs a seed, and refuses a non-empty directory or an existing run", () => {
    expect(() => RunStore.create(newRunDir(), { config: { x: 1 }, model })).toThrow(/no seed/);
    const dir = newRunDir();
    RunStore.create(dir, { config, model }).close();
    expect(() => RunStore.create(dir, { config, model })).toThrow(/holds a run already/);
    const other = tempDir("ts-run-");
    writeFileSync(join(other, "notes.txt"), "mine");
    expect(() => RunStore.create(other, { config, model })).toThrow(/the directory is not empty \(notes.txt\)/);
  });
});

describe("an interrupted creation", () => {
  it("leaves an empty run.sqlite that a new create (or openOrCreate) reuses, and a stale config.json is repaired", () => {
    const dir = newRunDir();
    mkdirSync(dir);
    // What a create killed before its first commit leaves behind: a WAL database with no tables.
    const db = new Database(join(dir, "run.sqlite"));
    db.pragma("journal_mode = WAL");
    db.close();
    expect(() => RunStore.open(dir)).toThrow(/is not a tokensqueeze run: run.sqlite has no run metadata/);
    RunStore.openOrCreate(dir, { config, model }).close();
    writeFileSync(join(dir, "config.json"), "{}\n");
    RunStore.open(dir, { config, model }).close();
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))).toEqual(config);
  });
});

describe("opening a run", () => {
  it("is a clear error for anything that is not a run", () => {
    const base = tempDir("ts-notrun-");
    expect(() => RunStore.open(join(base, "missing"))).toThrow(/no run at .*missing: the directory does not exist/);
    expect(() => RunStore.open(base)).toThrow(NotARunError);
    expect(() => RunStore.open(base)).toThrow(/is not a tokensqueeze run: it has no run.sqlite/);
    writeFileSync(join(base, "file.txt"), "x");
    expect(() => RunStore.open(join(base, "file.txt"))).toThrow(/is a file, not a run directory/);
    const junk = join(base, "junk");
    mkdirSync(junk);
    writeFileSync(join(junk, "run.sqlite"), "this is not a database at all, just text padding it out to a page".repeat(100));
    expect(() => RunStore.open(junk)).toThrow(/cannot be opened as a SQLite database/);
    // Errors are user errors (the CLI prints the message and exits 2), never crashes.
    try {
      RunStore.open(base);
    } catch (err) {
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).exitCode).toBe(2);
    }
  });

  it("accepts a path to a file inside the run and regenerates a missing run.json", () => {
    const dir = newRunDir();
    RunStore.create(dir, { config, model }).close();
    rmSync(join(dir, "run.json"));
    const store = RunStore.open(join(dir, "run.sqlite"), { config, model, command: { argv: ["again"] } });
    expect(store.dir).toBe(dir);
    store.close();
    expect(manifestOf(dir).history.map((c) => c.argv)).toEqual([["again"]]);
  });

  it("reopens with the same config, and ignores settings that cannot change results", () => {
    const dir = newRunDir();
    RunStore.create(dir, { config, model }).close();
    const faster = { ...config, preset: "paper-7b", engine: { ...config.engine, model: "http://gpu-2:8000/v1", concurrency: 64 } };
    const store = RunStore.open(dir, { config: faster, model, command: { argv: ["x"] } });
    // The snapshot keeps what the records were computed with; nothing result-relevant changed.
    expect(store.config).toEqual(config);
    expect(store.manifest().configVersions).toBe(1);
    store.close();
  });

  it("refuses a config, seed or model that would change results, naming every difference, and changes nothing", () => {
    const dir = newRunDir();
    const s0 = RunStore.create(dir, { config, model });
    s0.table(notes).put({ id: "a", text: "kept" });
    s0.close();
    const runJson = readFileSync(join(dir, "run.json"), "utf8");
    const configJson = readFileSync(join(dir, "config.json"), "utf8");

    const changed = { ...config, seed: 12, sample: { ...config.sample, n: 16 }, datasets: [{ name: "gsm8k" }] };
    let err: unknown;
    try {
      RunStore.open(dir, { config: changed, model: { ...model, name: "other-model" }, command: { argv: ["y"] } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigMismatchError);
    const message = (err as Error).message;
    expect(message).toContain('datasets[0].name: "math500" → "gsm8k"');
    expect(message).toContain("sample.n: 32 → 16");
    expect(message).toContain("seed: 11 → 12");
    expect(message).toContain('model.name: "deepseek-r1-distill-qwen-7b" → "other-model"');
    expect(message).toMatch(/Use a new run directory, or pass --force/);
    // The refused command left no trace: manifest, config and records as they were.
    expect(readFileSync(join(dir, "run.json"), "utf8")).toBe(runJson);
    expect(readFileSync(join(dir, "config.json"), "utf8")).toBe(configJson);
    const check = RunStore.open(dir, { readonly: true });
    expect(check.table(notes).all()).toEqual([{ id: "a", text: "kept" }]);
    expect(check.commands()).toHaveLength(0);
    check.close();
  });

  it("compares model weights by hash when both sides know it", () => {
    const dir = newRunDir();
    RunStore.create(dir, { config, model: { ...model, sha256: "aa" } }).close();
    // Same weights under another name (a moved folder): fine.
    RunStore.open(dir, { config, model: { ...model, name: "/new/path", sha256: "aa" } }).close();
    expect(() => RunStore.open(dir, { config, model: { ...model, sha256: "bb" } })).toThrow(/model.sha256: "aa" → "bb"/);
    expect(() => RunStore.open(dir, { config, model: { ...model, engine: "sglang", sha256: "aa" } })).toThrow(/model.engine/);
  });

  it("with force adopts the new config, keeps the old one and records the change", () => {
    const dir = newRunDir();
    RunStore.create(dir, { config, model }).close();
    const changed = { ...config, seed: 12, sample: { ...config.sample, n: 16 } };
    const store = RunStore.open(dir, { config: changed, model, force: true, command: { argv: ["z", "--force"] } });
    expect(store.config).toEqual(changed);
    expect(store.seed).toBe(12);
    expect(store.manifest().configVersions).toBe(2);
    store.close();
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))).toEqual(changed);
    const check = RunStore.open(dir, { readonly: true });
    const versions = check.db.prepare(`SELECT reason FROM _configs ORDER BY id`).pluck().all();
    expect(versions).toEqual(["created", "forced: sample.n, seed"]);
    check.close();
  });

  it("read-only opening records nothing and cannot write", () => {
    const dir = newRunDir();
    RunStore.create(dir, { config, model }).close();
    const runJson = readFileSync(join(dir, "run.json"), "utf8");
    const ro = RunStore.open(dir, { readonly: true, command: { argv: ["show"] } });
    expect(() => ro.table(notes)).toThrow(/has no table "notes"/);
    expect(() => ro.archiveStage("x")).toThrow(/read-only/);
    ro.close();
    expect(readFileSync(join(dir, "run.json"), "utf8")).toBe(runJson);
  });

  it("records each command's outcome in the history", () => {
    const dir = newRunDir();
    RunStore.create(dir, { config, model, command: { argv: ["one"] } }).close();
    RunStore.open(dir, { config, model, command: { argv: ["two"] } }).close({ status: "failed", message: "boom" });
    const s = RunStore.open(dir, { config, model, command: { argv: ["three"] } });
    expect(s.resumeCommand()).toBe("tokensqueeze three");
    // not closed: as if killed
    const h = manifestOf(dir).history;
    expect(h.map((c) => [c.argv[0], c.status, c.message])).toEqual([
      ["one", "ok", null],
      ["two", "failed", "boom"],
      ["three", "running", null],
    ]);
    s.close();
  });
});
