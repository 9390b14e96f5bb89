/**
 * Reading data files into problems: rows → `rowToProblem`, with ids checked for uniqueness across all files of
 * a dataset, and bad rows either thrown (the default) or skipped and counted.
 */
import { InputError } from "../util/errors.js";
import { rowToProblem, type RowConversion } from "./fields.js";
import type { Problem } from "./problem.js";
import { readRows, type RawRow, type RecordFormat } from "./records.js";
import type { DatasetContents, SkippedRow } from "./types.js";

export interface CollectOptions {
  skipBadRows: boolean;
  format?: RecordFormat;
  /**
   * Fixes a known fault in a row before conversion (mutating `row.value`) and returns a note saying what it
   * changed, or undefined when the row is fine.
   */
  patchRow?: (row: RawRow) => string | undefined;
}

/** Accumulates problems from one or more files of the same dataset. */
export class ProblemCollector {
  readonly problems: Problem[] = [];
  readonly paths: string[] = [];
  readonly skipped: SkippedRow[] = [];
  readonly notes: string[] = [];
  private readonly fields = new Set<string>();
  private readonly firstSeen = new Map<string, { file: string; line: number }>();

  constructor(private readonly skipBadRows: boolean) {}

  async addFile(file: string, conv: RowConversion, opts: Omit<CollectOptions, "skipBadRows"> = {}): Promise<void> {
    this.paths.push(file);
    for await (const result of readRows(file, opts.format)) {
      if (!result.ok) {
        this.reject(result.error);
        continue;
      }
      const { row } = result;
      for (const k of Object.keys(row.value)) this.fields.add(k);
      try {
        const note = opts.patchRow?.(row);
        if (note !== undefined) this.notes.push(note);
        const problem = rowToProblem(row, conv);
        const seen = this.firstSeen.get(problem.id);
        if (seen) {
          const field = conv.mapping?.id ?? (row.value.id !== undefined ? "id" : row.value.unique_id !== undefined ? "unique_id" : undefined);
          throw new InputError({ file: row.file, line: row.line, field }, `duplicate id "${problem.id}" (first at ${seen.file}:${seen.line})`);
        }
        this.firstSeen.set(problem.id, { file: row.file, line: row.line });
        this.problems.push(problem);
      } catch (err) {
        if (err instanceof InputError) this.reject(err);
        else throw err;
      }
    }
  }

  private reject(error: InputError): void {
    if (!this.skipBadRows) throw error;
    this.skipped.push({ ...error.location, message: error.message });
  }

  contents(): DatasetContents {
    return {
      problems: this.problems,
      paths: this.paths,
      fields: [...this.fields].sort(),
      skipped: this.skipped,
      notes: this.notes,
    };
  }
}
