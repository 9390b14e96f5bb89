/**
 * Bad input: every case is a clear error naming file, line and field, with exit code 2, and --skip-bad-rows turns
 * row errors into a counted warning.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parquetWriteBuffer } from "hyparquet-writer";
import { describe, expect, it } from "vitest";
import { firstInvalidUtf8Offset, loadDataset } from "../../src/data/index.js";
import { Rng } from "../../src/util/rng.js";
import { InputError } from "../../src/util/errors.js";
import { runCli, tempDir } from "../helpers.js";

const good = (n: number) => JSON.stringify({ question: `q${n}`, answer: String(n) });

/** Bad rows, each as it would be written on one line of a JSONL file, with what the error must say. */
const rowCases: { name: string; line: Buffer; field: string; detail: RegExp }[] = [
  {
    name: "malformed JSON",
    line: Buffer.from('{"question": "q", "answer": }'),
    field: "answer",
    detail: /malformed JSON at column 29: expected a value, got "\}"/,
  },
  { name: "missing answer", line: Buffer.from('{"question": "q"}'), field: "answer", detail: /missing answer/ },
  { name: "null answer", line: Buffer.from('{"question": "q", "answer": null}'), field: "answer", detail: /missing answer/ },
  { name: "empty answer", line: Buffer.from('{"question": "q", "answer": "  "}'), field: "answer", detail: /empty answer/ },
  {
    name: "answer of the wrong type (an object)",
    line: Buffer.from('{"question": "q", "answer": {"value": 4}}'),
    field: "answer",
    detail: /expected a string or number answer, got an object/,
  },
  {
    name: "question of the wrong type (a number)",
    line: Buffer.from('{"question": 12, "answer": "4"}'),
    field: "question",
    detail: /expected a string question, got number 12/,
  },
  {
    name: "id of the wrong type",
    line: Buffer.from('{"question": "q", "answer": "4", "id": [1]}'),
    field: "id",
    detail: /expected a string or number id, got an array/,
  },
  {
    name: "level of the wrong type",
    line: Buffer.from('{"question": "q", "answer": "4", "level": "hard"}'),
    field: "level",
    detail: /expected an integer level/,
  },
  {
    name: "non-UTF-8 bytes",
    line: Buffer.concat([Buffer.from('{"question": "caf'), Buffer.from([0xe9]), Buffer.from('?", "answer": "5"}')]),
    field: "question",
    detail: /not valid UTF-8 \(invalid byte at byte 18 of the line\)/,
  },
  {
    name: "duplicate id",
    line: Buffer.from('{"question": "again", "answer": "1", "id": "first"}'),
    field: "id",
    detail: /duplicate id "first" \(first at .*:1\)/,
  },
];

function jsonlWithBadLine(dir: string, bad: Buffer, badLine: number): string {
  const file = join(dir, "rows.jsonl");
  const lines: Buffer[] = [];
  for (let n = 1; n <= 4; n++) {
    if (n === badLine) lines.push(bad);
    else lines.push(Buffer.from(n === 1 ? JSON.stringify({ question: "q1", answer: "1", id: "first" }) : good(n)));
  }
  writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")])));
  return file;
}

describe("a bad row stops the command with exit 2, naming file, line and field", () => {
  for (const c of rowCases) {
    it(c.name, () => {
      const dir = tempDir();
      const file = jsonlWithBadLine(dir, c.line, 3);
      const r = runCli(["data", "inspect", file, "--json"]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
      const message = r.stderr.trim();
      expect(message.startsWith(`tokensqueeze: ${file}:3: field "${c.field}": `), message).toBe(true);
      expect(message).toMatch(c.detail);
    });
  }
});

describe("--skip-bad-rows", () => {
  it("skips every bad row, counts them in --json output and warns on stderr", () => {
    const dir = tempDir();
    const file = join(dir, "mixed.jsonl");
    const lines: Buffer[] = [Buffer.from(JSON.stringify({ question: "q1", answer: "1", id: "first" }))];
    for (const c of rowCases) lines.push(c.line, Buffer.from(good(lines.length + 1)));
    writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")])));

    const strict = runCli(["data", "inspect", file, "--json"]);
    expect(strict.status).toBe(2);
    expect(strict.stderr).toContain(`${file}:2: field "answer": malformed JSON`);

    const r = runCli(["data", "inspect", file, "--json", "--skip-bad-rows"]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { count: number; skippedRows: number; skipped: { line: number; field: string }[] };
    expect(s.count).toBe(1 + rowCases.length);
    expect(s.skippedRows).toBe(rowCases.length);
    expect(s.skipped.map((k) => [k.line, k.field])).toEqual(rowCases.map((c, i) => [2 + 2 * i, c.field]));
    expect(r.stderr).toContain(`warning: skipped ${rowCases.length} bad row(s)`);
    expect(r.stderr).toContain(`${file}:4: field "answer": missing answer`);
  });

  it("does not hide a file-level problem (an empty file)", () => {
    const dir = tempDir();
    const file = join(dir, "empty.jsonl");
    writeFileSync(file, "");
    const r = runCli(["data", "inspect", file, "--json", "--skip-bad-rows"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:1: empty file: no rows`);
  });
});

async function inputError(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error("expected an InputError");
}

describe("empty files", () => {
  it("0 bytes, only blank lines, an empty JSON array, an empty data array, a Parquet file without rows", async () => {
    const dir = tempDir();
    const cases: [string, string | Uint8Array][] = [
      ["zero.jsonl", ""],
      ["blank.jsonl", "\n  \n\r\n"],
      ["arr.json", "[\n]\n"],
      ["obj.json", '{"data": []}'],
      ["none.parquet", new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "question", data: [], type: "STRING" }] }))],
    ];
    for (const [name, content] of cases) {
      const file = join(dir, name);
      writeFileSync(file, content);
      const err = await inputError(loadDataset(file));
      expect(err.location, name).toEqual({ file, line: 1 });
      expect(err.message).toBe(`${file}:1: empty file: no rows`);
    }
    const r = runCli(["data", "inspect", join(dir, "zero.jsonl")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${join(dir, "zero.jsonl")}:1: empty file: no rows`);
  });
});

describe("bad rows in JSON and Parquet files are located too", () => {
  it("JSON array: a malformed element names its line, column and field", async () => {
    const dir = tempDir();
    const file = join(dir, "rows.json");
    writeFileSync(file, '[\n  {"question": "a", "answer": "1"},\n  {"question": "b",\n   "answer": 2 "level": 3}\n]\n');
    const err = await inputError(loadDataset(file));
    expect(err.message).toBe(`${file}:4: field "answer": malformed JSON at column 16: expected "," or "}" after the value of "answer", got "\\""`);
  });

  it("JSON array: a wrong type names the element's line", async () => {
    const dir = tempDir();
    const file = join(dir, "rows.json");
    writeFileSync(file, '[\n  {"question": "a", "answer": "1"},\n\n  {"question": "b",\n   "answer": true}\n]\n');
    const err = await inputError(loadDataset(file));
    expect(err.location).toEqual({ file, line: 4, field: "answer" });
    expect(err.detail).toBe("expected a string or number answer, got boolean true");
  });

  it("JSON file with invalid UTF-8 names the line", async () => {
    const dir = tempDir();
    const file = join(dir, "latin1.json");
    writeFileSync(file, Buffer.concat([Buffer.from('[{"question": "a", "answer": "1"},\n{"question": "\xfc'), Buffer.from([0xfc]), Buffer.from('", "answer": "2"}]')]));
    const err = await inputError(loadDataset(file));
    expect(err.location).toEqual({ file, line: 2, field: "question" });
    expect(err.detail).toMatch(/not valid UTF-8/);
  });

  it("a trailing comma names the field before it", async () => {
    const dir = tempDir();
    const file = join(dir, "rows.jsonl");
    writeFileSync(file, `${good(1)}\n{"question": "q", "answer": "2",}\n`);
    const err = await inputError(loadDataset(file));
    expect(err.message).toBe(`${file}:2: field "answer": malformed JSON at column 33: expected another quoted key after the value of "answer", got "}"`);
  });

  it("a row that is not an object", async () => {
    const dir = tempDir();
    const file = join(dir, "rows.jsonl");
    writeFileSync(file, `${good(1)}\n[1, 2]\n`);
    const err = await inputError(loadDataset(file));
    expect(err.message).toBe(`${file}:2: expected a JSON object per row, got an array`);
  });

  it("Parquet: a null answer names the row number and field; --skip-bad-rows counts it", async () => {
    const dir = tempDir();
    const file = join(dir, "rows.parquet");
    const buf = parquetWriteBuffer({
      columnData: [
        { name: "question", data: ["a", "b", "c"], type: "STRING" },
        { name: "answer", data: ["1", null, "3"], type: "STRING" },
      ],
    });
    writeFileSync(file, new Uint8Array(buf));
    const err = await inputError(loadDataset(file));
    expect(err.message).toBe(`${file}:2: field "answer": missing answer`);
    const ds = await loadDataset(file, { skipBadRows: true });
    expect(ds.problems.map((p) => p.answer)).toEqual(["1", "3"]);
    expect(ds.skipped).toHaveLength(1);
    const r = runCli(["data", "inspect", file, "--skip-bad-rows", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { skippedRows: number }).skippedRows).toBe(1);
  });

  it("a file that is not Parquet despite its name", async () => {
    const dir = tempDir();
    const file = join(dir, "fake.parquet");
    writeFileSync(file, "question,answer\nq,1\n");
    const err = await inputError(loadDataset(file));
    expect(err.message).toMatch(new RegExp(`^${file.replace(/\./g, "\\.")}: cannot read Parquet file`));
  });
});

describe("locating invalid UTF-8", () => {
  it("agrees with a fatal TextDecoder on random byte strings", () => {
    const fatal = new TextDecoder("utf-8", { fatal: true });
    const rng = new Rng(20261126);
    // Bytes drawn mostly from the interesting ranges: ASCII, continuation bytes, lead bytes, and the invalid ones.
    const pool = [0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x90, 0x8f];
    for (let n = 0; n < 5000; n++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rng.next() * 8) }, () => pool[Math.floor(rng.next() * pool.length)]);
      const offset = firstInvalidUtf8Offset(bytes);
      let valid = true;
      try {
        fatal.decode(bytes);
      } catch {
        valid = false;
      }
      expect(offset === bytes.length, Buffer.from(bytes).toString("hex")).toBe(valid);
      expect(() => fatal.decode(bytes.subarray(0, offset))).not.toThrow();
    }
    expect(firstInvalidUtf8Offset(Buffer.from("ok 😀 é", "utf8"))).toBe(Buffer.byteLength("ok 😀 é"));
    expect(firstInvalidUtf8Offset(Buffer.from([0x61, 0xed, 0xa0, 0x80]))).toBe(1); // an encoded surrogate
    expect(firstInvalidUtf8Offset(Buffer.from([0x61, 0x62, 0xc0, 0xaf]))).toBe(2); // an overlong "/"
  });
});
