/**
 * Files that are either wholly the old version or wholly the new one: written to `<path>.tmp-<pid>` beside the
 * target and renamed over it, so a failed or killed writer never leaves half a file where a complete one was.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** fsync the data and the directory entry, so the new file survives a machine crash (checkpoints want this). */
  durable?: boolean;
}

/** Calls `write(fd)` on a temporary file, then renames it to `path`; on an error the temporary file is removed. */
export function writeAtomically(path: string, write: (fd: number) => void, opts: AtomicWriteOptions = {}): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    write(fd);
    if (opts.durable) fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  if (opts.durable) fsyncDirectory(dirname(path));
}

export function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  writeAtomically(path, (fd) => (typeof data === "string" ? writeSync(fd, data) : writeSync(fd, data)), opts);
}

/** Removes temporary files a killed writer left beside `path` (call before a run starts writing). */
export function removeStaleTemporaries(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) return;
  const prefix = `${basename(path)}.tmp-`;
  for (const f of readdirSync(dir)) if (f.startsWith(prefix)) rmSync(join(dir, f), { force: true });
}

function fsyncDirectory(dir: string): void {
  // Makes the rename itself durable; some filesystems refuse fsync on a directory, which is harmless here.
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}
