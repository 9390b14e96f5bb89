/** The shapes shared by dataset loaders, the registry and `loadDataset`. */
import type { Problem } from "./problem.js";

/** A bad row that `skipBadRows` let through: where it was and what was wrong. */
export interface SkippedRow {
  file: string;
  line?: number;
  field?: string;
  /** The full located message, as the error would have printed it. */
  message: string;
}

/** What a loader returns. */
export interface DatasetContents {
  problems: Problem[];
  /** Files read, absolute (empty for generated datasets such as the world). */
  paths: string[];
  /** Field names seen in the rows, sorted (for `data inspect`). */
  fields: string[];
  /** Bad rows skipped under `skipBadRows` (always empty otherwise: the first bad row throws). */
  skipped: SkippedRow[];
  /** Corrections applied to known faults in the source data, one line each. */
  notes: string[];
}

export interface DatasetContext {
  /** The dataset's name (an alias is resolved to it). */
  name: string;
  /** The resolved data directory; set only for loaders with `usesDataDir`. */
  dataDir?: string;
  /** Skip and count bad rows instead of throwing on the first. */
  skipBadRows: boolean;
}

/** A named dataset. Register new ones with `registerDataset(name, loader)`. */
export interface DatasetLoader {
  /** One line for `data list`. */
  description: string;
  /** True when the dataset reads files from the data directory (a missing directory is then an error). */
  usesDataDir: boolean;
  /** Files it reads, relative to the data directory (for `data list` and error messages). */
  files?: string[];
  load(ctx: DatasetContext): Promise<DatasetContents>;
}
