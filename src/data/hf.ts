/**
 * `hf://datasets/<org>/<name>[@<revision>][/<file>]` (a revision with "/" URL-encoded): a file of a Hugging Face hub dataset, downloaded once into
 * a local cache folder and read from there afterwards without any network access (so it works offline, and
 * tests pre-populate the cache instead of downloading).
 *
 * Cache layout: `<cache>/datasets/<org>/<name>/<revision>/<file>`, where <cache> is TOKENSQUEEZE_CACHE or
 * ~/.cache/tokensqueeze/hf. Without a file, the dataset's file list is fetched (and cached beside the files)
 * and the single JSONL / JSON / Parquet file in it is used; with several, the error lists them.
 */
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { UserError } from "../util/errors.js";

export interface HfRef {
  /** `org/name`. */
  repo: string;
  revision: string;
  /** Path of the file inside the dataset repository, if given. */
  file?: string;
}

export const hfPrefix = "hf://datasets/";

export function isHfUrl(ref: string): boolean {
  return ref.startsWith("hf://");
}

export function parseHfUrl(url: string): HfRef {
  if (!url.startsWith(hfPrefix)) {
    throw new UserError(`${url}: only Hugging Face datasets are supported: hf://datasets/<org>/<name>[@<revision>][/<file>]`);
  }
  const parts = url.slice(hfPrefix.length).split("/");
  if (parts.length < 2 || parts[0] === "" || parts[1] === "") {
    throw new UserError(`${url}: expected hf://datasets/<org>/<name>[@<revision>][/<file>]`);
  }
  const [org, nameRev, ...rest] = parts;
  const [name, rawRevision = "main"] = nameRev.split("@");
  // A revision containing "/" (e.g. refs/convert/parquet) is written URL-encoded: name@refs%2Fconvert%2Fparquet.
  const revision = decodeURIComponent(rawRevision);
  const file = rest.join("/");
  if (rest.some((p) => p === "" || p === "." || p === "..") && file !== "") throw new UserError(`${url}: bad file path "${file}"`);
  if (revision === "" || revision.includes("..")) throw new UserError(`${url}: bad revision "${revision}"`);
  return { repo: `${org}/${name}`, revision, file: file === "" ? undefined : file };
}

export function hfCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.TOKENSQUEEZE_CACHE;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : join(homedir(), ".cache", "tokensqueeze", "hf");
}

/** Where a hub file lives in the cache. */
export function hfCachePath(cacheDir: string, ref: HfRef & { file: string }): string {
  // A revision such as "refs/convert/parquet" becomes one folder name.
  return join(cacheDir, "datasets", ...ref.repo.split("/"), ref.revision.replace(/\//g, "--"), ...ref.file.split("/"));
}

export interface HfFetchOptions {
  cacheDir: string;
  /** Injected in tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  env?: NodeJS.ProcessEnv;
  /** Progress messages (stderr in the CLI). */
  onMessage?: (message: string) => void;
}

const dataFile = /\.(jsonl|ndjson|json|parquet)$/i;
const listingName = ".tokensqueeze-files.json";

/** Returns the local path of the hub file `url` names, downloading it into the cache only when absent. */
export async function resolveHfFile(url: string, opts: HfFetchOptions): Promise<string> {
  const ref = parseHfUrl(url);
  const file = ref.file ?? (await pickSingleDataFile(url, ref, opts));
  const local = hfCachePath(opts.cacheDir, { ...ref, file });
  if (existsSync(local)) return local;
  await downloadHubFile(hfResolveUrl(ref, file, opts.env), local, opts, url);
  return local;
}

export function hfEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
}

/** The hub's download URL of one file (HF_ENDPOINT replaces https://huggingface.co, e.g. for a mirror or a test server). */
export function hfResolveUrl(ref: HfRef, file: string, env?: NodeJS.ProcessEnv): string {
  const path = file.split("/").map(encodeURIComponent).join("/");
  return `${hfEndpoint(env)}/datasets/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${path}`;
}

function authHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const token = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function pickSingleDataFile(url: string, ref: HfRef, opts: HfFetchOptions): Promise<string> {
  const listingPath = join(opts.cacheDir, "datasets", ...ref.repo.split("/"), ref.revision.replace(/\//g, "--"), listingName);
  let files: string[];
  if (existsSync(listingPath)) {
    files = JSON.parse(readFileSync(listingPath, "utf8")) as string[];
  } else {
    const api = `${hfEndpoint(opts.env)}/api/datasets/${ref.repo}/tree/${encodeURIComponent(ref.revision)}?recursive=true`;
    const res = await httpGet(api, opts, url);
    const entries = (await res.json()) as { type?: string; path?: string }[];
    if (!Array.isArray(entries)) throw new UserError(`${url}: unexpected answer from ${api}`);
    files = entries.filter((e) => e.type === "file" && typeof e.path === "string").map((e) => e.path!);
    mkdirSync(dirname(listingPath), { recursive: true });
    writeFileSync(listingPath, JSON.stringify(files));
  }
  const data = files.filter((f) => dataFile.test(f) && !f.split("/").some((p) => p.startsWith(".")));
  if (data.length === 1) return data[0];
  if (data.length === 0) throw new UserError(`${url}: the dataset has no JSONL, JSON or Parquet file`);
  throw new UserError(`${url}: the dataset has ${data.length} data files; name one, e.g. ${url}/${data[0]} (files: ${data.slice(0, 20).join(", ")}${data.length > 20 ? ", …" : ""})`);
}

async function httpGet(target: string, opts: HfFetchOptions, url: string): Promise<Response> {
  const doFetch = opts.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await doFetch(target, { headers: authHeaders(opts.env), redirect: "follow" });
  } catch (err) {
    throw new UserError(`${url}: cannot reach the Hugging Face hub at ${target} (${networkReason(err)}); it is not in the cache at ${opts.cacheDir}`);
  }
  if (!res.ok) {
    const hint =
      res.status === 401 || res.status === 403
        ? " (a gated or private dataset: set HF_TOKEN)"
        : res.status === 404
          ? " (no such dataset, revision or file)"
          : "";
    throw new UserError(`${url}: the hub answered ${res.status} ${res.statusText} for ${target}${hint}`);
  }
  return res;
}

/** What a file must be: a download that differs is refused and nothing is left in the cache. */
export interface ExpectedFile {
  sha256: string;
  bytes?: number;
}

/**
 * Downloads `target` to `local` through a temporary file beside it, renamed into place only once complete (and,
 * with `expected`, only when its sha256 matches), so a failed, interrupted or wrong download never leaves a file
 * where a good one is expected. `url` names the file in messages.
 */
export async function downloadHubFile(target: string, local: string, opts: HfFetchOptions, url: string, expected?: ExpectedFile): Promise<void> {
  const res = await httpGet(target, opts, url);
  if (!res.body) throw new UserError(`${url}: empty response from ${target}`);
  mkdirSync(dirname(local), { recursive: true });
  const partial = `${local}.part-${process.pid}`;
  opts.onMessage?.(`downloading ${target} → ${local}`);
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    await pipeline(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          bytes += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(partial),
    );
  } catch (err) {
    rmSync(partial, { force: true });
    throw new UserError(`${url}: download from ${target} failed: ${networkReason(err)}`);
  }
  const sha256 = hash.digest("hex");
  if (expected && sha256 !== expected.sha256) {
    rmSync(partial, { force: true });
    const size = expected.bytes !== undefined ? ` (${bytes} bytes; expected ${expected.bytes})` : ` (${bytes} bytes)`;
    throw new UserError(`${url}: checksum mismatch for ${target}: sha256 ${sha256}${size}, expected ${expected.sha256}; nothing was written to ${local}`);
  }
  // Rename last, so an interrupted download never leaves a truncated file where a complete one is expected.
  renameSync(partial, local);
}

/** Node's fetch reports "fetch failed" and keeps the reason (ECONNREFUSED, ENOTFOUND, …) in `cause`. */
function networkReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  if (code === "ECONNREFUSED") return "connection refused: offline, or nothing is listening there";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `host not found (${code}): offline, or a wrong endpoint`;
  if (code !== undefined) return `${err.message}: ${code}${cause?.message ? ` ${cause.message}` : ""}`;
  return cause?.message ? `${err.message}: ${cause.message}` : err.message;
}
