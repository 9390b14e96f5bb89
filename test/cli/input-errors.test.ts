/**
 * One error behaviour for every command that reads a user's data file (`data inspect`, `grade`, `eval` with a
 * file benchmark, `train-sft`): an empty file is exit 2 with the same message, invalid JSON names file, line,
 * field and column the same way (config files too), and `--skip-bad-rows` has the same words and meaning.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, runCli, tempDir } from "../helpers.js";

const tiny = join(repoRoot, "test", "fixtures", "tiny-llama");

/** Each command that reads a data file, with the fields one of its rows needs. */
interface Reader {
  name: string;
  fields: [string, string];
  args: (file: string, dir: string) => string[];
}

const readers: Reader[] = [
  { name: "data inspect", fields: ["question", "answer"], args: (file) => ["data", "inspect", file, "--json"] },
  { name: "grade", fields: ["gold", "prediction"], args: (file) => ["grade", "--input", file] },
  {
    name: "eval",
    fields: ["question", "answer"],
    args: (file, dir) => ["eval", "--model", tiny, "--bench", file, "--samples", "1", "--max-tokens", "4", "--progress", "none", "--json", "--out", join(dir, "run")],
  },
  {
    name: "train-sft",
    fields: ["prompt", "completion"],
    args: (file, dir) => ["train-sft", "--model", tiny, "--data", file, "--out", join(dir, "out"), "--steps", "1", "--batch-size", "1", "--threads", "1", "--json"],
  },
];

function goodRow(r: Reader, i: number): string {
  return JSON.stringify({ [r.fields[0]]: `What is ${i} plus ${i}?`, [r.fields[1]]: String(2 * i), id: `row-${i}` });
}

describe("an empty data file", () => {
  for (const r of readers) {
    it(`${r.name}: exit 2, naming the file and line`, () => {
      const dir = tempDir();
      const file = join(dir, "empty.jsonl");
      writeFileSync(file, "\n\n");
      const res = runCli(r.args(file, dir), { timeoutMs: 180_000 });
      expect(res.status, res.stderr).toBe(2);
      expect(res.stderr).toContain(`${file}:1: empty file: no rows`);
      expect(res.stdout).toBe("");
      expect(existsSync(join(dir, "run"))).toBe(false);
    });
  }
});

describe("invalid JSON is reported one way: file, line, field, column", () => {
  for (const r of readers) {
    it(r.name, () => {
      const dir = tempDir();
      const file = join(dir, "bad.jsonl");
      const bad = `{"${r.fields[0]}": "q", "${r.fields[1]}": }`;
      writeFileSync(file, [goodRow(r, 1), bad, goodRow(r, 3)].join("\n") + "\n");
      const res = runCli(r.args(file, dir), { timeoutMs: 180_000 });
      expect(res.status, res.stderr).toBe(2);
      expect(res.stderr).toContain(`${file}:2: field "${r.fields[1]}": malformed JSON at column ${bad.indexOf("}") + 1}: expected a value, got "}"`);
    });
  }

  it("config show --config on a JSON file", () => {
    const file = join(tempDir(), "run.json");
    const bad = `  "selection": {"alpha": }`;
    writeFileSync(file, `{\n${bad}\n}\n`);
    const res = runCli(["config", "show", "--config", file]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain(`${file}:2: field "selection": malformed JSON at column ${bad.indexOf("}") + 1}: expected a value, got "}"`);
  });
});

describe("--skip-bad-rows", () => {
  it("has the same help text on every command that reads a data file", () => {
    const lines = readers.map((r) => {
      const help = runCli([...r.name.split(" "), "--help"]).stdout.replace(/\n\s+/g, " ");
      const m = /--skip-bad-rows (.*?)(?= -|$)/.exec(help);
      expect(m, `${r.name} --help`).not.toBeNull();
      return m![1].trim();
    });
    expect(new Set(lines).size).toBe(1);
    expect(lines[0]).toBe("skip rows with errors (counted and reported) instead of stopping at the first");
  });

  for (const r of readers) {
    it(`${r.name}: without it the first bad row stops the command; with it bad rows are skipped, counted and reported`, () => {
      const dir = tempDir();
      const file = join(dir, "mixed.jsonl");
      const missing = JSON.stringify({ [r.fields[0]]: "no answer here", id: "row-2" });
      writeFileSync(file, [goodRow(r, 1), missing, "{ not json", goodRow(r, 4)].join("\n") + "\n");
      const strict = runCli(r.args(file, dir), { timeoutMs: 180_000 });
      expect(strict.status).toBe(2);
      expect(strict.stderr).toContain(`${file}:2: field "${r.fields[1]}": `);

      const res = runCli([...r.args(file, tempDir()), "--skip-bad-rows"], { timeoutMs: 180_000 });
      expect(res.status, res.stderr).toBe(0);
      expect(res.stderr).toContain(`warning: skipped 2 bad row(s) in `);
      expect(res.stderr).toContain(`  ${file}:2: field "${r.fields[1]}": `);
      expect(res.stderr).toContain(`  ${file}:3: malformed JSON at column 3: expected a quoted key, got "n"`);
      // Only the good rows were used.
      if (r.name === "data inspect") expect((JSON.parse(res.stdout) as { count: number }).count).toBe(2);
      if (r.name === "grade") expect(res.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(["row-1", "row-4"]);
      if (r.name === "eval") expect(Object.values(JSON.parse(res.stdout) as Record<string, { problems: number }>)[0].problems).toBe(2);
      if (r.name === "train-sft") expect((JSON.parse(res.stdout) as { examples: number }).examples).toBe(2);
    });
  }
});
