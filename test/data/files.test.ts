import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parquetWriteBuffer } from "hyparquet-writer";
import { describe, expect, it } from "vitest";
import { hfCachePath, loadDataset, parseHfUrl, registerDataset, resolveDataDir } from "../../src/data/index.js";
import { repoRoot, runCli, sharedData, tempDir } from "../helpers.js";

function writeParquet(file: string, columns: { name: string; data: unknown[]; type: "STRING" | "INT32" | "INT64" | "DOUBLE" }[]): void {
  const buf = parquetWriteBuffer({ columnData: columns as Parameters<typeof parquetWriteBuffer>[0]["columnData"] });
  writeFileSync(file, Buffer.from(buf));
}

const noNetwork = (() => {
  throw new Error("network access attempted in an offline test");
}) as unknown as typeof fetch;

describe("generic files with a field mapping", () => {
  it("JSONL: default fields, ids falling back to line numbers, numbers and GSM8K-style answers normalised", async () => {
    const dir = tempDir();
    const file = join(dir, "mine.jsonl");
    writeFileSync(
      file,
      [
        JSON.stringify({ question: "1+1?", answer: 2 }),
        "",
        JSON.stringify({ problem: "3.0?", answer: 3.0, level: "Level 2", subject: "Arithmetic" }),
        JSON.stringify({ question: "big?", answer: "so 1000+234 = 1234\n#### 1,234" }),
        JSON.stringify({ question: "half?", answer: " 0.5 " }),
      ].join("\r\n") + "\r\n",
    );
    const ds = await loadDataset(file);
    expect(ds.kind).toBe("file");
    expect(ds.problems).toEqual([
      { id: "1", question: "1+1?", answer: "2", meta: { source: file } },
      { id: "3", question: "3.0?", answer: "3", meta: { source: file, level: 2, subject: "Arithmetic" } },
      { id: "4", question: "big?", answer: "1234", meta: { source: file } },
      { id: "5", question: "half?", answer: "0.5", meta: { source: file } },
    ]);
    expect(ds.fields).toEqual(["answer", "level", "problem", "question", "subject"]);
  });

  it("JSONL with explicit --question-field/--answer-field/--id-field through the CLI", () => {
    const dir = tempDir();
    const file = join(dir, "custom.jsonl");
    const rows = [
      { prompt: "What is 6*7?", target: "42", key: "a", difficulty: 1 },
      { prompt: "What is 2^10?", target: 1024, key: "b", difficulty: 3 },
      { prompt: "What is 10/4?", target: 2.5, key: "c", difficulty: 3 },
    ];
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const args = ["data", "inspect", file, "--question-field", "prompt", "--answer-field", "target", "--id-field", "key"];
    const r = runCli([...args, "--level-field", "difficulty", "--json", "--head", "3"]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { count: number; levels: Record<string, number>; head: { id: string; answer: string }[] };
    expect(s.count).toBe(3);
    expect(s.levels).toEqual({ "1": 1, "3": 2 });
    expect(s.head.map((p) => [p.id, p.answer])).toEqual([
      ["a", "42"],
      ["b", "1024"],
      ["c", "2.5"],
    ]);
    // Without the mapping the question field is missing: a located error, exit 2.
    const bad = runCli(["data", "inspect", file, "--json"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`${file}:1: field "question": missing question`);
  });

  it("JSON: an array, or an object with a data array, with line numbers per element", async () => {
    const dir = tempDir();
    const arr = join(dir, "arr.json");
    writeFileSync(arr, JSON.stringify([{ question: "q1", answer: "a1", id: "x" }, { question: "q2", answer: "a2", id: 7 }], null, 2));
    const a = await loadDataset(arr);
    expect(a.problems.map((p) => [p.id, p.answer])).toEqual([
      ["x", "a1"],
      ["7", "a2"],
    ]);
    const obj = join(dir, "obj.json");
    writeFileSync(obj, `{"version": 1, "notes": [{"data": []}],\n "data": [\n  {"question": "q1", "answer": "a"},\n  {"question": "q2", "answer": "b"},\n  {"question": "q3"}\n ]\n}\n`);
    await expect(loadDataset(obj)).rejects.toThrow(`${obj}:5: field "answer": missing answer`);
    const skipped = await loadDataset(obj, { skipBadRows: true });
    expect(skipped.problems.map((p) => p.id)).toEqual(["3", "4"]); // ids are line numbers
    expect(skipped.skipped).toEqual([{ file: obj, line: 5, field: "answer", message: `${obj}:5: field "answer": missing answer` }]);
  });

  it("Parquet: a generated file, with and without a field mapping", async () => {
    const dir = tempDir();
    const file = join(dir, "train-00000.parquet");
    writeParquet(file, [
      { name: "problem", data: ["2+2?", "3*3?", "10-1?"], type: "STRING" },
      { name: "solution", data: ["4", "9", "9"], type: "STRING" },
      { name: "uid", data: [101n, 102n, 103n], type: "INT64" },
      { name: "answer", data: [4, 9.0, 9.5], type: "DOUBLE" },
    ]);
    const plain = await loadDataset(file);
    expect(plain.problems.map((p) => [p.id, p.question, p.answer])).toEqual([
      ["1", "2+2?", "4"],
      ["2", "3*3?", "9"],
      ["3", "10-1?", "9.5"],
    ]);
    expect(plain.fields).toEqual(["answer", "problem", "solution", "uid"]);
    const mapped = await loadDataset(file, { mapping: { answer: "solution", id: "uid" } });
    expect(mapped.problems.map((p) => [p.id, p.answer])).toEqual([
      ["101", "4"],
      ["102", "9"],
      ["103", "9"],
    ]);
    const r = runCli(["data", "inspect", file, "--id-field", "uid", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { count: number }).count).toBe(3);
  });

  it("a file without a known extension is sniffed (Parquet magic, JSON array, else JSONL)", async () => {
    const dir = tempDir();
    writeParquet(join(dir, "p.bin"), [
      { name: "question", data: ["q"], type: "STRING" },
      { name: "answer", data: ["a"], type: "STRING" },
    ]);
    writeFileSync(join(dir, "a.txt"), '[{"question": "q", "answer": "a"}]');
    writeFileSync(join(dir, "l.txt"), '{"question": "q", "answer": "a"}\n{"question": "r", "answer": "b"}\n');
    expect((await loadDataset(join(dir, "p.bin"))).problems).toHaveLength(1);
    expect((await loadDataset(join(dir, "a.txt"))).problems).toHaveLength(1);
    expect((await loadDataset(join(dir, "l.txt"))).problems).toHaveLength(2);
  });

  it("a file given relative to the working directory", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "rel.jsonl"), '{"question": "q", "answer": "a"}\n');
    const ds = await loadDataset("rel.jsonl", { cwd: dir });
    expect(ds.problems[0].meta.source).toBe("rel.jsonl");
  });
});

describe("hf://datasets/<org>/<name>[/<file>] through the local cache (offline)", () => {
  it("parses references", () => {
    expect(parseHfUrl("hf://datasets/openai/gsm8k/main/test-00000-of-00001.parquet")).toEqual({
      repo: "openai/gsm8k",
      revision: "main",
      file: "main/test-00000-of-00001.parquet",
    });
    expect(parseHfUrl("hf://datasets/org/name@v1.0")).toEqual({ repo: "org/name", revision: "v1.0", file: undefined });
    expect(parseHfUrl("hf://datasets/org/name@refs%2Fconvert%2Fparquet/default/test/0000.parquet")).toEqual({
      repo: "org/name",
      revision: "refs/convert/parquet",
      file: "default/test/0000.parquet",
    });
    expect(() => parseHfUrl("hf://models/org/name")).toThrow(/only Hugging Face datasets/);
    expect(() => parseHfUrl("hf://datasets/org")).toThrow(/expected hf:\/\/datasets/);
    expect(() => parseHfUrl("hf://datasets/org/name/../x")).toThrow(/bad file path/);
  });

  it("reads a file already in the cache folder without touching the network", async () => {
    const cacheDir = tempDir("ts-hf-cache-");
    const url = "hf://datasets/tiny-org/tiny-math/data/test.parquet";
    const local = hfCachePath(cacheDir, { repo: "tiny-org/tiny-math", revision: "main", file: "data/test.parquet" });
    mkdirSync(join(local, ".."), { recursive: true });
    writeParquet(local, [
      { name: "question", data: ["1+2?", "Natalia sold 48 clips…"], type: "STRING" },
      { name: "answer", data: ["3", "She sold 48/2 = 24.\n#### 72"], type: "STRING" },
    ]);
    const ds = await loadDataset(url, { cacheDir, fetch: noNetwork });
    expect(ds.kind).toBe("hf");
    expect(ds.paths).toEqual([local]);
    expect(ds.problems.map((p) => [p.id, p.answer, p.meta.source])).toEqual([
      ["1", "3", url],
      ["2", "72", url],
    ]);
    // The CLI finds the same cache through TOKENSQUEEZE_CACHE.
    const r = runCli(["data", "inspect", url, "--json"], { env: { TOKENSQUEEZE_CACHE: cacheDir, HF_ENDPOINT: "http://127.0.0.1:9" } });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { count: number }).count).toBe(2);
  });

  it("without a file, uses the cached file list when it names exactly one data file", async () => {
    const cacheDir = tempDir("ts-hf-cache-");
    const base = join(cacheDir, "datasets", "o", "single", "main");
    mkdirSync(join(base, "data"), { recursive: true });
    writeFileSync(join(base, ".tokensqueeze-files.json"), JSON.stringify(["README.md", ".gitattributes", "data/all.jsonl"]));
    writeFileSync(join(base, "data", "all.jsonl"), '{"question": "q", "answer": "a"}\n');
    const ds = await loadDataset("hf://datasets/o/single", { cacheDir, fetch: noNetwork });
    expect(ds.problems).toHaveLength(1);
    writeFileSync(join(base, ".tokensqueeze-files.json"), JSON.stringify(["train.jsonl", "test.jsonl"]));
    await expect(loadDataset("hf://datasets/o/single", { cacheDir, fetch: noNetwork })).rejects.toThrow(/has 2 data files; name one/);
  });

  it("downloads a missing file through the hub's resolve URL into the cache, once", async () => {
    const cacheDir = tempDir("ts-hf-cache-");
    const requested: string[] = [];
    const fakeHub = (async (input: string | URL | Request) => {
      requested.push(String(input));
      return new Response('{"question": "q", "answer": "#### 1,000"}\n', { status: 200 });
    }) as typeof fetch;
    const ref = "hf://datasets/org/set@v2/sub dir/test.jsonl";
    const ds = await loadDataset(ref, { cacheDir, fetch: fakeHub, env: {} });
    expect(requested).toEqual(["https://huggingface.co/datasets/org/set/resolve/v2/sub%20dir/test.jsonl"]);
    expect(ds.problems[0].answer).toBe("1000");
    await loadDataset(ref, { cacheDir, fetch: noNetwork, env: {} }); // second time: from the cache
    const converted = "hf://datasets/org/set@refs%2Fconvert%2Fparquet/default/x.jsonl";
    await loadDataset(converted, { cacheDir, fetch: fakeHub, env: {} });
    expect(requested[1]).toBe("https://huggingface.co/datasets/org/set/resolve/refs%2Fconvert%2Fparquet/default/x.jsonl");
    const missing = (async () => new Response("nope", { status: 404, statusText: "Not Found" })) as typeof fetch;
    await expect(loadDataset("hf://datasets/org/set/other.jsonl", { cacheDir, fetch: missing, env: {} })).rejects.toThrow(/answered 404.*no such dataset/);
  });
});

/**
 * A working directory with no ../shared/data beside it, from which the CLI (run through tsx) still resolves its
 * node_modules: a temp folder holding a link to the checkout's node_modules, and the cwd two levels below it.
 */
function isolatedCwd(): string {
  const root = tempDir();
  symlinkSync(join(repoRoot, "node_modules"), join(root, "node_modules"), "dir");
  const cwd = join(root, "work", "cwd");
  mkdirSync(cwd, { recursive: true });
  return cwd;
}

describe("named datasets: data directory and registry", () => {
  it("the data directory comes from --data-dir, then TOKENSQUEEZE_DATA, then ../shared/data, then the data fetch cache", () => {
    const cwd = isolatedCwd();
    const beside = join(cwd, "..", "..", "beside");
    mkdirSync(join(beside, "shared", "data"), { recursive: true });
    mkdirSync(join(beside, "repo"));
    expect(resolveDataDir(undefined, {}, join(beside, "repo"))).toEqual({
      dir: join(beside, "shared", "data"),
      from: "../shared/data next to the working directory",
    });
    expect(resolveDataDir(sharedData, {}, cwd).from).toBe("--data-dir");
    expect(resolveDataDir(undefined, { TOKENSQUEEZE_DATA: sharedData }, cwd)).toEqual({ dir: sharedData, from: "TOKENSQUEEZE_DATA" });
    // Last, the `data fetch` cache, when it exists (named here, so a developer's own ~/.cache does not count).
    const noCache = { TOKENSQUEEZE_DATA_CACHE: join(cwd, "no-cache") };
    expect(() => resolveDataDir(undefined, noCache, cwd)).toThrow(/no data directory: pass --data-dir DIR or set TOKENSQUEEZE_DATA \(looked for \.\.\/shared\/data.*`tokensqueeze data fetch` \(into .*no-cache\)/);
    mkdirSync(join(cwd, "cache"));
    expect(resolveDataDir(undefined, { TOKENSQUEEZE_DATA_CACHE: join(cwd, "cache") }, cwd)).toEqual({ dir: join(cwd, "cache"), from: "the `tokensqueeze data fetch` cache" });
    expect(resolveDataDir(undefined, { TOKENSQUEEZE_DATA_CACHE: join(cwd, "cache") }, join(beside, "repo")).dir).toBe(join(beside, "shared", "data"));
    expect(() => resolveDataDir(join(cwd, "nope"), {}, cwd)).toThrow(/data directory not found: .*nope \(from --data-dir\)/);
  });

  it("a missing data directory or file is a clear CLI error (exit 2) saying where it looked", () => {
    const cwd = isolatedCwd();
    const env = { TOKENSQUEEZE_DATA: "", TOKENSQUEEZE_DATA_CACHE: join(cwd, "no-cache") };
    const r = runCli(["data", "inspect", "math500", "--json"], { cwd, env });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no data directory/);
    const empty = tempDir();
    const f = runCli(["data", "inspect", "aime25", "--data-dir", empty], { env });
    expect(f.status).toBe(2);
    expect(f.stderr).toContain(`aime25: file not found: ${join(empty, "aime25", "test.jsonl")} (data directory ${empty}, from --data-dir)`);
    const u = runCli(["data", "inspect", "math-501", "--data-dir", empty], { env });
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/unknown dataset "math-501": not a named dataset/);
  });

  it("other modules can register a dataset (the world generator's hook)", async () => {
    registerDataset("test-generated", {
      description: "generated in memory",
      usesDataDir: false,
      load: async () => ({
        problems: [{ id: "g-1", question: "1+1", answer: "2", meta: { source: "test-generated", level: 1 } }],
        paths: [],
        fields: [],
        skipped: [],
        notes: [],
      }),
    });
    const ds = await loadDataset("test-generated", { env: {}, cwd: tempDir() });
    expect(ds.problems).toHaveLength(1);
    expect(() => registerDataset("test-generated", { description: "", usesDataDir: false, load: async () => ds })).toThrow(/already registered/);
  });

  it("data list shows the named datasets", () => {
    const r = runCli(["data", "list", "--data-dir", sharedData, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { datasets: { name: string; available: boolean }[] };
    expect(list.datasets.filter((d) => d.available).map((d) => d.name)).toEqual(
      expect.arrayContaining(["aime24", "aime25", "amc23", "gsm8k", "gsm8k-train", "math-train", "math500"]),
    );
  });
});
