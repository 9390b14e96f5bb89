/**
 * Exports are derived from the store, never the other way round: a table's records, in key order, one JSON
 * object per line. Written to a temporary file and renamed, so a failed export never leaves half a file
 * where a complete one was.
 */
import { writeSync } from "node:fs";
import { writeAtomically } from "../util/atomic-file.js";
import type { Table } from "./table.js";

export interface JsonlExportOptions<T> {
  /** Only records matching these column values. */
  filter?: Partial<T>;
  /** Reshape each record (e.g. into TRL's {prompt, chosen, rejected}); return undefined to leave it out. */
  map?: (record: T) => unknown;
}

/** Writes the table's records to `path` as JSON lines; returns the number of lines written. */
export function writeJsonl<T extends object, K extends keyof T & string>(table: Table<T, K>, path: string, opts: JsonlExportOptions<T> = {}): number {
  let lines = 0;
  writeAtomically(path, (fd) => {
    let buffer = "";
    for (const record of table.iterate(opts.filter ?? {})) {
      const value = opts.map ? opts.map(record) : record;
      if (value === undefined) continue;
      buffer += JSON.stringify(value, bytesAsBase64) + "\n";
      lines++;
      if (buffer.length > 1 << 20) {
        writeSync(fd, buffer);
        buffer = "";
      }
    }
    writeSync(fd, buffer);
  });
  return lines;
}

/** JSON replacer: byte arrays (blob columns) as base64 strings. `this[key]` is the value before Buffer.toJSON. */
function bytesAsBase64(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  return original instanceof Uint8Array ? Buffer.from(original).toString("base64") : value;
}
