import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { defineTable, RecordConflictError, RecordError, RunStore, TableSchemaError, writeJsonl } from "../../src/store/index.js";
import { tempDir } from "../helpers.js";

interface Sample {
  problemId: string;
  sampleIndex: number;
  text: string;
  logprob: number;
  correct: boolean;
  tokenIds: number[];
  meta: { finish: string; extra: unknown } | null;
  raw: Uint8Array;
  stopReason?: string;
}

const samples = defineTable<Sample>()({
  name: "samples",
  version: 1,
  key: ["problemId", "sampleIndex"],
  columns: {
    problemId: "text",
    sampleIndex: "integer",
    text: "text",
    logprob: "real",
    correct: "boolean",
    tokenIds: "json",
    meta: "json",
    raw: "blob",
    stopReason: { type: "text", optional: true },
  },
  indexes: [["correct"]],
});

function sample(problemId: string, sampleIndex: number, over: Partial<Sample> = {}): Sample {
  return {
    problemId,
    sampleIndex,
    text: `answer ${problemId}/${sampleIndex} ünïcode ✓`,
    logprob: -1.25 * (sampleIndex + 1),
    correct: sampleIndex % 2 === 0,
    tokenIds: [1, 2, sampleIndex],
    meta: sampleIndex === 0 ? null : { finish: "stop", extra: { nested: [true, null, 0.5] } },
    raw: Buffer.from([0, 255, sampleIndex]),
    ...over,
  };
}

let open: RunStore[] = [];
function newStore(): RunStore {
  const store = RunStore.create(join(tempDir("ts-table-"), "run"), { config: { seed: 1 }, model: { name: "m", engine: "none" } });
  open.push(store);
  return store;
}
afterEach(() => {
  for (const s of open) s.close();
  open = [];
});

describe("defineTable", () => {
  it("rejects bad declarations with a message naming the problem", () => {
    expect(() => defineTable<{ a: string }>()({ name: "Bad-Name", version: 1, key: ["a"], columns: { a: "text" } })).toThrow(/name must match/);
    expect(() => defineTable<{ a: string }>()({ name: "_meta", version: 1, key: ["a"], columns: { a: "text" } })).toThrow(/name must match/);
    expect(() => defineTable<{ a: string }>()({ name: "x__y", version: 1, key: ["a"], columns: { a: "text" } })).toThrow(/reserved for archived/);
    expect(() => defineTable<{ a: string }>()({ name: "t", version: 0, key: ["a"], columns: { a: "text" } })).toThrow(/version/);
    expect(() => defineTable<{ a: string }>()({ name: "t", version: 1, key: [], columns: { a: "text" } })).toThrow(/natural key is required/);
    expect(() => defineTable<{ a: number[] }>()({ name: "t", version: 1, key: ["a"], columns: { a: "json" } })).toThrow(/must be text or integer/);
    expect(() =>
      defineTable<{ a?: string }>()({ name: "t", version: 1, key: ["a"], columns: { a: { type: "text", optional: true } } }),
    ).toThrow(/cannot be optional/);
  });
});

describe("a record table", () => {
  it("round-trips every column type exactly, in key order", () => {
    const store = newStore();
    const t = store.table(samples);
    const records = [sample("p2", 1), sample("p1", 3, { stopReason: "</answer>" }), sample("p1", 0), sample("p10", 2, { logprob: -Infinity })];
    expect(t.putMany(records)).toEqual({ inserted: 4, existing: 0 });
    const back = t.all();
    // Text keys sort bytewise (p1 < p10 < p2), then by sample index.
    expect(back.map((r) => `${r.problemId}/${r.sampleIndex}`)).toEqual(["p1/0", "p1/3", "p10/2", "p2/1"]);
    const byKey = new Map(records.map((r) => [`${r.problemId}/${r.sampleIndex}`, r]));
    for (const r of back) {
      const original = byKey.get(`${r.problemId}/${r.sampleIndex}`)!;
      expect({ ...r, raw: [...r.raw] }).toEqual({ ...original, raw: [...original.raw] });
      expect("stopReason" in r).toBe(original.stopReason !== undefined);
    }
    expect(t.get({ problemId: "p1", sampleIndex: 3 })!.stopReason).toBe("</answer>");
    expect(t.get({ problemId: "p1", sampleIndex: 9 })).toBeUndefined();
    expect(t.has({ problemId: "p2", sampleIndex: 1 })).toBe(true);
    expect(t.has({ problemId: "p2", sampleIndex: 2 })).toBe(false);
  });

  it("filters, counts, pages and lists keys", () => {
    const store = newStore();
    const t = store.table(samples);
    t.putMany(Array.from({ length: 10 }, (_, i) => sample(`p${i % 3}`, i)));
    expect(t.count()).toBe(10);
    expect(t.count({ problemId: "p0" })).toBe(4);
    expect(t.count({ correct: true })).toBe(5);
    expect(t.all({ problemId: "p1", correct: false }).map((r) => r.sampleIndex)).toEqual([1, 7]);
    expect(t.all({}, { limit: 2, offset: 1 }).map((r) => r.sampleIndex)).toEqual([3, 6]);
    expect([...t.keys({ problemId: "p2" })]).toEqual([
      { problemId: "p2", sampleIndex: 2 },
      { problemId: "p2", sampleIndex: 5 },
      { problemId: "p2", sampleIndex: 8 },
    ]);
    expect(() => t.count({ tokenIds: [1] } as Partial<Sample>)).toThrow(/cannot filter on json column "tokenIds"/);
  });

  it("rejects a record that cannot be stored as declared, naming table, record and column", () => {
    const t = newStore().table(samples);
    const bad = (over: Record<string, unknown>) => () => t.put({ ...sample("p1", 4), ...over } as Sample);
    expect(bad({ logprob: NaN })).toThrow(RecordError);
    expect(bad({ logprob: NaN })).toThrow(/table "samples", record \{problemId="p1", sampleIndex=4\}: column "logprob": expected a number \(not NaN\), got NaN/);
    expect(bad({ sampleIndex: 1.5 })).toThrow(/column "sampleIndex": expected a safe integer/);
    expect(bad({ text: 3 })).toThrow(/column "text": expected a string, got the number 3/);
    expect(bad({ correct: "yes" })).toThrow(/column "correct": expected a boolean/);
    expect(bad({ raw: [1, 2] })).toThrow(/column "raw": expected a Uint8Array/);
    expect(bad({ text: undefined })).toThrow(/column "text": missing/);
    expect(bad({ tokenIds: 10n })).toThrow(/column "tokenIds": not JSON-serialisable/);
    expect(t.count()).toBe(0);
  });

  it("never overwrites silently: identical re-puts are ignored, different ones fail and roll the call back", () => {
    const t = newStore().table(samples);
    t.putMany([sample("p1", 0), sample("p1", 1)]);
    // Idempotent: the same records again.
    expect(t.putMany([sample("p1", 0), sample("p1", 1)])).toEqual({ inserted: 0, existing: 2 });
    // A batch whose last record conflicts: nothing of the batch is stored, the stored record is unchanged.
    const attempt = () => t.putMany([sample("p9", 0), sample("p1", 1, { text: "changed" })]);
    expect(attempt).toThrow(RecordConflictError);
    expect(attempt).toThrow(/record \{problemId="p1", sampleIndex=1\} is already stored with different contents \(columns text\)/);
    expect(t.has({ problemId: "p9", sampleIndex: 0 })).toBe(false);
    expect(t.get({ problemId: "p1", sampleIndex: 1 })!.text).toBe(sample("p1", 1).text);
    // Explicit opt-outs.
    expect(t.putMany([sample("p1", 1, { text: "changed" })], { onConflict: "ignore" })).toEqual({ inserted: 0, existing: 1 });
    expect(t.get({ problemId: "p1", sampleIndex: 1 })!.text).toBe(sample("p1", 1).text);
    expect(t.putMany([sample("p1", 1, { text: "changed" }), sample("p1", 2)], { onConflict: "replace" })).toEqual({ inserted: 1, existing: 1 });
    expect(t.get({ problemId: "p1", sampleIndex: 1 })!.text).toBe("changed");
  });

  it("refuses to bind a declaration whose shape differs from the stored table", () => {
    const store = newStore();
    store.table(samples).put(sample("p1", 0));
    const v2 = defineTable<Sample>()({ name: "samples", version: 2, key: ["problemId", "sampleIndex"], columns: samplesColumns() });
    expect(() => store.table(v2)).toThrow(TableSchemaError);
    expect(() => store.table(v2)).toThrow(/table "samples" in run .* does not match this version of tokensqueeze: stored version 1, declared version 2/);
    const sameVersionOtherColumns = defineTable<Omit<Sample, "raw">>()({
      name: "samples",
      version: 1,
      key: ["problemId", "sampleIndex"],
      columns: (({ raw: _raw, ...rest }) => rest)(samplesColumns()),
    });
    expect(() => store.table(sameVersionOtherColumns)).toThrow(/columns differ \(stored only: raw:blob; declared only: none\)/);
    // The stored data is untouched.
    expect(store.table(samples).count()).toBe(1);
  });
});

describe("JSONL export", () => {
  it("derives one line per record from the store, in key order, blobs as base64, optionally reshaped", () => {
    const store = newStore();
    const t = store.table(samples);
    t.putMany([sample("p2", 0), sample("p1", 1, { stopReason: "x" }), sample("p1", 0)]);
    const out = join(store.dir, "samples.jsonl");
    expect(writeJsonl(t, out)).toBe(3);
    const lines = readFileSync(out, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => `${l.problemId}/${l.sampleIndex}`)).toEqual(["p1/0", "p1/1", "p2/0"]);
    expect(lines[1]).toEqual({ ...sample("p1", 1, { stopReason: "x" }), raw: Buffer.from([0, 255, 1]).toString("base64") });
    const trl = join(store.dir, "trl.jsonl");
    expect(writeJsonl(t, trl, { filter: { correct: true }, map: (r) => ({ prompt: r.problemId, completion: r.text }) })).toBe(2);
    expect(readFileSync(trl, "utf8")).toBe(
      [sample("p1", 0), sample("p2", 0)].map((r) => JSON.stringify({ prompt: r.problemId, completion: r.text })).join("\n") + "\n",
    );
    // A failing export leaves no partial file behind.
    const bad = join(store.dir, "bad.jsonl");
    expect(() => writeJsonl(t, bad, { map: () => { throw new Error("boom"); } })).toThrow("boom");
    expect(existsSync(bad)).toBe(false);
    expect(existsSync(`${bad}.tmp-${process.pid}`)).toBe(false);
  });
});

function samplesColumns() {
  return {
    problemId: "text",
    sampleIndex: "integer",
    text: "text",
    logprob: "real",
    correct: "boolean",
    tokenIds: "json",
    meta: "json",
    raw: "blob",
    stopReason: { type: "text", optional: true },
  } as const;
}
