/**
 * `tokensqueeze grade --input F.jsonl`: grades every row's prediction against its gold answer and writes each
 * row back to stdout as JSONL with `extracted` (string or null) and `equal` (boolean) added. The whole file is
 * validated before anything is graded, so a bad row costs nothing and names its file, line and field. The file
 * is read like every other data file (src/data/records.ts): the same errors for malformed JSON and an empty
 * file (exit 2), and `--skip-bad-rows` leaves bad rows out of the output instead of stopping.
 */
import type { Command } from "commander";
import { parseBounded, skipBadRowsOption } from "../options.js";
import { InputError, UserError } from "../../util/errors.js";

interface GradeCliOptions {
  input: string;
  goldField: string;
  predictionField: string;
  timeoutMs: string;
  format: string;
  thinking: string;
  workers?: string;
  floatRounding: string;
  skipBadRows?: boolean;
}

const FORMATS = ["auto", "boxed", "answer-tag", "gsm8k", "bare", "choice"];

export function register(program: Command): void {
  program
    .command("grade")
    .description("grade predictions against gold answers (JSONL in, JSONL out with `extracted` and `equal` added)")
    .requiredOption("--input <file>", "JSONL file, one object per line with the gold answer and the prediction")
    .option("--gold-field <name>", "field holding the reference answer", "gold")
    .option("--prediction-field <name>", "field holding the prediction: a whole response or a bare answer", "prediction")
    .option("--timeout-ms <ms>", "hard time bound for each comparison", "1000")
    .option("--format <format>", `how to find the answer in the prediction: ${FORMATS.join(", ")}`, "auto")
    .option("--thinking <mode>", "auto | required (a response without </think> is truncated: no answer)", "auto")
    .option("--float-rounding <digits>", "decimal places a decimal answer must match", "6")
    .option("--workers <n>", "worker threads for large files (default 1: grade in the main thread)")
    .addOption(skipBadRowsOption())
    .action(async (opts: GradeCliOptions) => {
      const timeoutMs = parseBounded("--timeout-ms", opts.timeoutMs, { integer: true, min: 1 });
      const floatRounding = parseBounded("--float-rounding", opts.floatRounding, { integer: true, min: 0 });
      if (!FORMATS.includes(opts.format)) throw new UserError(`--format must be one of ${FORMATS.join(", ")} (got "${opts.format}")`);
      if (opts.thinking !== "auto" && opts.thinking !== "required") throw new UserError(`--thinking must be auto or required (got "${opts.thinking}")`);
      const workers = opts.workers === undefined ? undefined : parseBounded("--workers", opts.workers, { integer: true, min: 1 });

      const { readRows, skippedRowsWarning } = await import("../../data/records.js");
      const rows: Record<string, unknown>[] = [];
      const items: { gold: string; prediction: string }[] = [];
      const skipped: InputError[] = [];
      for await (const result of readRows(opts.input, "jsonl")) {
        try {
          if (!result.ok) throw result.error;
          const { row } = result;
          const r = row.value;
          const [gold, prediction] = [opts.goldField, opts.predictionField].map((field) => {
            const at = { file: row.file, line: row.line, field };
            if (!(field in r)) throw new InputError(at, "missing");
            const v = r[field];
            // Numeric answers (AMC's 27.0, GSM8K as numbers) are accepted as their decimal text.
            if (typeof v === "number" && Number.isFinite(v)) return String(v);
            if (typeof v !== "string") throw new InputError(at, `must be a string (got ${v === null ? "null" : typeof v})`);
            return v;
          }) as [string, string];
          rows.push(r);
          items.push({ gold, prediction });
        } catch (err) {
          if (!(err instanceof InputError) || !opts.skipBadRows) throw err;
          skipped.push(err);
        }
      }
      process.stderr.write(skippedRowsWarning(opts.input, skipped));

      const { gradeBatch } = await import("../../grade/index.js");
      const results = await gradeBatch(items, {
        timeoutMs,
        floatRounding,
        format: opts.format as "auto",
        thinking: opts.thinking as "auto" | "required",
        workers,
      });
      let equal = 0;
      let timedOut = 0;
      const out: string[] = [];
      rows.forEach((r, k) => {
        const res = results[k]!;
        if (res.equal) equal++;
        if (res.timedOut) timedOut++;
        out.push(JSON.stringify({ ...r, extracted: res.extracted, equal: res.equal }));
      });
      process.stdout.write(out.length > 0 ? out.join("\n") + "\n" : "");
      const pct = rows.length > 0 ? ((100 * equal) / rows.length).toFixed(1) : "0.0";
      process.stderr.write(`graded ${rows.length} rows: ${equal} equal (${pct}%)${timedOut > 0 ? `, ${timedOut} hit the time bound` : ""}\n`);
    });
}

