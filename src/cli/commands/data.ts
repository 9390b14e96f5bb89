/** `tokensqueeze data inspect|list|fetch`: look at a dataset the way the stages will see it, or download the benchmarks. */
import type { Command } from "commander";
import { parseIntList, skipBadRowsOption, positiveInt } from "../options.js";
import { UserError } from "../../util/errors.js";

interface InspectOptions {
  dataDir?: string;
  json?: boolean;
  questionField?: string;
  answerField?: string;
  idField?: string;
  levelField?: string;
  subjectField?: string;
  answerFormat?: string;
  skipBadRows?: boolean;
  levels?: string;
  limit?: string;
  head?: string;
}


export function register(program: Command): void {
  const data = program.command("data").description("inspect, list and download datasets");

  data
    .command("fetch")
    .description("download named benchmarks from the Hugging Face hub into the data cache, checking each file's sha256")
    .argument("[names...]", "benchmarks to download (default: all that can be fetched)")
    .option("--cache-dir <dir>", "folder to fill, laid out like a data directory (default: $TOKENSQUEEZE_DATA_CACHE, else ~/.cache/tokensqueeze/data)")
    .option("--mirror <org/name[@rev]>", "take every file from this dataset repository, laid out like the data directory")
    .option("--endpoint <url>", "the hub's base URL (default: $HF_ENDPOINT, else https://huggingface.co)")
    .option("--json", "print JSON on stdout")
    .action(async (names: string[], opts: { cacheDir?: string; mirror?: string; endpoint?: string; json?: boolean }) => {
      const { dataCacheDir, fetchBenchmarks } = await import("../../data/index.js");
      const env = opts.endpoint === undefined ? process.env : { ...process.env, HF_ENDPOINT: opts.endpoint };
      const { resolve } = await import("node:path");
      const cacheDir = opts.cacheDir === undefined ? dataCacheDir(env) : resolve(opts.cacheDir);
      const files = await fetchBenchmarks(names, { cacheDir, mirror: opts.mirror, env, onMessage: (m) => process.stderr.write(`${m}\n`) });
      if (opts.json) {
        process.stdout.write(JSON.stringify({ cacheDir, files }, null, 2) + "\n");
        return;
      }
      for (const f of files) process.stdout.write(`${f.status === "present" ? "present   " : "downloaded"} ${f.dataset.padEnd(12)} ${f.path}\n`);
      process.stdout.write(`data cache: ${cacheDir}\n`);
      // The loaders look in the default cache by themselves; any other folder has to be named to them.
      if (cacheDir !== dataCacheDir(env)) process.stdout.write(`read it with --data-dir ${cacheDir} or TOKENSQUEEZE_DATA=${cacheDir}\n`);
    });

  data
    .command("inspect")
    .description("load a dataset (named, a JSONL/JSON/Parquet file, or hf://datasets/<org>/<name>/<file>) and summarise it")
    .argument("<dataset>", "a named dataset (see `data list`), a file path, or an hf:// URL")
    .option("--data-dir <dir>", "where named datasets live (default: $TOKENSQUEEZE_DATA, else ../shared/data, else the `data fetch` cache)")
    .option("--question-field <name>", "field holding the question (default: question, else problem)")
    .option("--answer-field <name>", "field holding the reference answer (default: answer)")
    .option("--id-field <name>", "field holding the id (default: id, else unique_id, else the line number)")
    .option("--level-field <name>", "field holding the level (default: level, when present)")
    .option("--subject-field <name>", "field holding the subject (default: subject, when present)")
    .option("--answer-format <format>", "plain | gsm8k (answer after '####') | auto (default for files)")
    .option("--levels <list>", "keep only these levels, e.g. 3,4,5")
    .option("--limit <n>", "keep only the first n problems")
    .option("--head <n>", "also print the first n problems")
    .addOption(skipBadRowsOption())
    .option("--json", "print JSON on stdout")
    .action(async (ref: string, opts: InspectOptions) => {
      const { loadDataset, skippedRowsWarning, summariseDataset } = await import("../../data/index.js");
      const answerFormat = opts.answerFormat;
      if (answerFormat !== undefined && !["plain", "gsm8k", "auto"].includes(answerFormat)) {
        throw new UserError(`--answer-format: expected plain, gsm8k or auto, got "${answerFormat}"`);
      }
      const mapping = {
        question: opts.questionField,
        answer: opts.answerField,
        id: opts.idField,
        level: opts.levelField,
        subject: opts.subjectField,
      };
      const ds = await loadDataset(ref, {
        dataDir: opts.dataDir,
        mapping: Object.values(mapping).some((v) => v !== undefined) ? mapping : undefined,
        answerFormat: answerFormat as "plain" | "gsm8k" | "auto" | undefined,
        skipBadRows: opts.skipBadRows ?? false,
        levels: opts.levels === undefined ? undefined : parseIntList("--levels", opts.levels),
        limit: opts.limit === undefined ? undefined : positiveInt("--limit", opts.limit),
        onMessage: (m) => process.stderr.write(`${m}\n`),
      });
      const summary = summariseDataset(ds, { head: opts.head === undefined ? undefined : positiveInt("--head", opts.head) });
      process.stderr.write(skippedRowsWarning(ref, ds.skipped));
      for (const note of summary.notes) process.stderr.write(`note: ${note}\n`);
      if (opts.json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
        return;
      }
      const out: string[] = [];
      out.push(`dataset   ${summary.name} (${summary.kind})`);
      for (const p of summary.paths) out.push(`file      ${p}`);
      out.push(`problems  ${summary.count}${ds.loadedCount !== summary.count ? ` (of ${ds.loadedCount} before filters)` : ""}`);
      out.push(`fields    ${summary.fields.join(", ")}`);
      out.push(`levels    ${histogram(summary.levels)}`);
      out.push(`subjects  ${histogram(summary.subjects)}`);
      out.push(`empty answers ${summary.answerEmpty}; skipped rows ${summary.skippedRows}`);
      for (const p of summary.head ?? []) out.push(`\n[${p.id}] answer: ${p.answer}\n${p.question.slice(0, 400)}${p.question.length > 400 ? " …" : ""}`);
      process.stdout.write(out.join("\n") + "\n");
    });

  data
    .command("list")
    .description("list the named datasets and whether their files are in the data directory")
    .option("--data-dir <dir>", "where named datasets live (default: $TOKENSQUEEZE_DATA, else ../shared/data, else the `data fetch` cache)")
    .option("--json", "print JSON on stdout")
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      const { datasetAliases, datasetNames, getDatasetLoader, resolveDataDir } = await import("../../data/index.js");
      const { existsSync } = await import("node:fs");
      const { join } = await import("node:path");
      let dir: string | undefined;
      let dirProblem: string | undefined;
      try {
        dir = resolveDataDir(opts.dataDir).dir;
      } catch (err) {
        dirProblem = err instanceof Error ? err.message : String(err);
      }
      const aliasList = Object.entries(datasetAliases());
      const rows = datasetNames().map((name) => {
        const loader = getDatasetLoader(name)!;
        const files = loader.files ?? [];
        const available = !loader.usesDataDir || (dir !== undefined && files.every((f) => existsSync(join(dir, f))));
        const aliases = aliasList.filter(([, to]) => to === name).map(([alias]) => alias);
        return { name, description: loader.description, files, available, aliases };
      });
      if (opts.json) {
        process.stdout.write(JSON.stringify({ dataDir: dir ?? null, dataDirProblem: dirProblem, datasets: rows }, null, 2) + "\n");
        return;
      }
      process.stdout.write(dir !== undefined ? `data directory: ${dir}\n` : `${dirProblem}\n`);
      const width = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows) {
        const also = r.aliases.length > 0 ? ` (also: ${r.aliases.join(", ")})` : "";
        process.stdout.write(`${r.available ? " " : "!"} ${r.name.padEnd(width)}  ${r.description}${also}\n`);
      }
    });
}

function histogram(h: Record<string, number>): string {
  return Object.entries(h)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");
}
