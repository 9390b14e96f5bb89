/**
 * `data fetch` against a real HTTP server on 127.0.0.1 that serves ../shared/data in the hub's
 * `/datasets/<org>/<name>/resolve/<revision>/<path>` layout.
 */
import { createServer, type Server } from "node:http";
import { createReadStream, existsSync, readdirSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchBenchmarks, fetchableDatasets, loadDataset } from "../../src/data/index.js";
import { runCliAsync, sharedData, tempDir } from "../helpers.js";

const mirror = "test-org/bench-mirror";
/** Repository → folder of ../shared/data it serves; the two real repos below hold single benchmark folders. */
const repos: Record<string, string> = {
  [mirror]: sharedData,
  "HuggingFaceH4/MATH-500": join(sharedData, "math500"),
  "DaertML/gsm8k-jsonl": join(sharedData, "gsm8k"),
};
const corrupt = "test-org/corrupt"; // serves the mirror's files with one byte changed
const cut = "test-org/cut"; // sends half of each file, then drops the connection

let server: Server;
let endpoint: string;
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const m = /^\/datasets\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? "");
    const repo = m?.[1];
    const file = m ? decodeURIComponent(m[3]) : "";
    if (repo === corrupt && !file.includes("..")) {
      const bytes = readFileSync(join(sharedData, file));
      bytes[0] ^= 1;
      res.writeHead(200).end(bytes);
      return;
    }
    if (repo === cut && !file.includes("..")) {
      const bytes = readFileSync(join(sharedData, file));
      res.writeHead(200, { "content-length": String(bytes.length) });
      res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
      return;
    }
    const root = repo === undefined ? undefined : repos[repo];
    const path = root === undefined || file.includes("..") ? undefined : join(root, file);
    if (path === undefined || !existsSync(path)) {
      res.writeHead(404, "Not Found").end("Entry not found");
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" });
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

/** Every file under `dir`, relative, to show that nothing partial was left behind. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe("data fetch", () => {
  it("fills the cache from a mirror; the loaders then read it and give the same problems as ../shared/data", async () => {
    const cacheDir = tempDir("ts-fetch-");
    const env = { HF_ENDPOINT: endpoint };
    const fetched = await fetchBenchmarks([], { cacheDir, mirror, env });
    expect(fetchableDatasets()).toEqual(["aime24", "aime25", "amc23", "gsm8k", "gsm8k-train", "math-train", "math500"]);
    expect(fetched.every((f) => f.status === "downloaded")).toBe(true);
    expect(fetched).toHaveLength(13);
    expect(fetched.find((f) => f.file === "math500/test.jsonl")?.url).toBe(`${endpoint}/datasets/${mirror}/resolve/main/math500/test.jsonl`);
    for (const f of fetched) expect(readFileSync(f.path).equals(readFileSync(join(sharedData, f.file)))).toBe(true);

    // No --data-dir, no TOKENSQUEEZE_DATA, no ../shared/data beside the working directory: the cache is used.
    const cwd = tempDir("ts-fetch-cwd-");
    const loaderEnv = { TOKENSQUEEZE_DATA_CACHE: cacheDir };
    for (const name of fetchableDatasets()) {
      const fromCache = await loadDataset(name, { env: loaderEnv, cwd });
      const fromShared = await loadDataset(name, { dataDir: sharedData });
      expect(fromCache.dataDir).toBe(cacheDir);
      expect([name, fromCache.problems.length]).toEqual([name, fromShared.problems.length]);
      expect(fromCache.problems.map((p) => [p.id, p.answer])).toEqual(fromShared.problems.map((p) => [p.id, p.answer]));
    }
    expect((await loadDataset("math500", { env: loaderEnv, cwd })).problems).toHaveLength(500);

    // A second fetch finds every file in place (checked by sha256) and downloads nothing.
    const before = requests.length;
    const again = await fetchBenchmarks(["math500", "gsm8k"], { cacheDir, mirror, env });
    expect(again.map((f) => f.status)).toEqual(["present", "present"]);
    expect(requests.length).toBe(before);
  });

  it("takes math500 and gsm8k from their public hub repositories by default; the others need a mirror", async () => {
    const cacheDir = tempDir("ts-fetch-");
    const fetched = await fetchBenchmarks(["math500", "gsm8k", "gsm8k-train"], { cacheDir, env: { HF_ENDPOINT: endpoint } });
    expect(fetched.map((f) => f.url.slice(endpoint.length))).toEqual([
      "/datasets/HuggingFaceH4/MATH-500/resolve/ff5b20257d8185524591543f8ff5993951537bb8/test.jsonl",
      "/datasets/DaertML/gsm8k-jsonl/resolve/main/test.jsonl",
      "/datasets/DaertML/gsm8k-jsonl/resolve/main/train.jsonl",
    ]);
    expect(filesUnder(cacheDir)).toEqual(["gsm8k/test.jsonl", "gsm8k/train.jsonl", "math500/test.jsonl"]);
    const cwd = tempDir("ts-fetch-cwd-");
    expect((await loadDataset("gsm8k", { env: { TOKENSQUEEZE_DATA_CACHE: cacheDir }, cwd })).problems).toHaveLength(1319);
    await expect(fetchBenchmarks(["aime24"], { cacheDir, env: { HF_ENDPOINT: endpoint } })).rejects.toThrow(
      /aime24 \(aime24\/test\.jsonl\): no public Hugging Face copy .* --mirror org\/name/,
    );
    await expect(fetchBenchmarks(["nonesuch"], { cacheDir, env: { HF_ENDPOINT: endpoint } })).rejects.toThrow(/"nonesuch" is not a named dataset; it can fetch: aime24/);
  });

  it("a wrong checksum is refused with the URL, the file and both hashes, and leaves no file", async () => {
    const cacheDir = tempDir("ts-fetch-");
    const err = await fetchBenchmarks(["amc23"], { cacheDir, mirror: corrupt, env: { HF_ENDPOINT: endpoint } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain(`amc23 (amc23/test.jsonl): checksum mismatch for ${endpoint}/datasets/${corrupt}/resolve/main/amc23/test.jsonl`);
    expect(msg).toMatch(/sha256 [0-9a-f]{64} \(27631 bytes; expected 27631\), expected 43707e1ca784/);
    expect((err as { exitCode?: number }).exitCode).toBe(2);
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it("a 404 names the URL and the file and leaves no file (CLI: exit code 2)", async () => {
    const cacheDir = tempDir("ts-fetch-");
    const r = await runCliAsync(["data", "fetch", "aime25", "--mirror", "test-org/empty", "--cache-dir", cacheDir, "--endpoint", endpoint]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`aime25 (aime25/test.jsonl): the hub answered 404 Not Found for ${endpoint}/datasets/test-org/empty/resolve/main/aime25/test.jsonl (no such dataset, revision or file)`);
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it("a connection dropped mid-file gives a clear error and leaves no partial file", async () => {
    const cacheDir = tempDir("ts-fetch-");
    await expect(fetchBenchmarks(["math500"], { cacheDir, mirror: cut, env: { HF_ENDPOINT: endpoint } })).rejects.toThrow(
      `math500 (math500/test.jsonl): download from ${endpoint}/datasets/${cut}/resolve/main/math500/test.jsonl failed`,
    );
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it("no network (connection refused) gives a clear error and leaves no file", async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, "127.0.0.1", done));
    const deadEndpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((done) => closed.close(() => done()));
    const cacheDir = tempDir("ts-fetch-");
    await expect(fetchBenchmarks(["math500"], { cacheDir, env: { HF_ENDPOINT: deadEndpoint } })).rejects.toThrow(
      `math500 (math500/test.jsonl): cannot reach the Hugging Face hub at ${deadEndpoint}/datasets/HuggingFaceH4/MATH-500/resolve/ff5b20257d8185524591543f8ff5993951537bb8/test.jsonl (connection refused: offline, or nothing is listening there)`,
    );
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it("the CLI fetches into --cache-dir and reports each file as JSON", async () => {
    const cacheDir = tempDir("ts-fetch-");
    const args = ["data", "fetch", "aime24", "amc23", "--mirror", mirror, "--cache-dir", cacheDir, "--endpoint", endpoint, "--json"];
    const r = await runCliAsync(args);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { cacheDir: string; files: { dataset: string; status: string; bytes: number }[] };
    expect(out.cacheDir).toBe(cacheDir);
    expect(out.files.map((f) => [f.dataset, f.status, f.bytes])).toEqual([
      ["aime24", "downloaded", 156944],
      ["amc23", "downloaded", 27631],
    ]);
    // (The CLI runs from the repository, where ../shared/data exists, so the loaders are checked in-process.)
    const fromCache = await loadDataset("aime24", { env: { TOKENSQUEEZE_DATA_CACHE: cacheDir }, cwd: tempDir("ts-fetch-cwd-") });
    expect(fromCache.problems).toHaveLength(30);
  });
});
