/**
 * `tokensqueeze serve`: refuses a non-loopback address without a key (unless --insecure), checks the key,
 * answers bad requests with a 4xx naming the problem and stays up, reports /metrics in Prometheus text, and on
 * SIGTERM finishes the request in flight before exiting.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServeSchema } from "../../src/config/schema.js";
import { openEngine } from "../../src/engines/factory.js";
import { serveModel, type ServeHandle } from "../../src/serve/run.js";
import { repoRoot, runCli } from "../helpers.js";

const folder = join(repoRoot, "test", "fixtures", "tiny-llama");

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: { message?: string } & Record<string, unknown> }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {} };
}

/** Starts `serve` as a user would and resolves with its URL once it listens. */
function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null>; stderr: () => string }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), "serve", "--model", folder, "--port", "0", "--workers", "0", ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      const m = /at (http:\/\/\S+) /.exec(stdout);
      if (m) resolve({ child, url: m[1], exited, stderr: () => stderr });
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before listening:\n${stderr}`)));
  });
}

describe("serve refuses to expose itself", () => {
  it("exits 2 on a non-loopback --host without a key, and starts with --insecure or a key", async () => {
    const r = runCli(["serve", "--model", folder, "--host", "0.0.0.0", "--port", "0"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--host 0.0.0.0 is reachable from other machines; give clients a key with --api-key-env VAR");
    const unset = runCli(["serve", "--model", folder, "--api-key-env", "TS_TEST_UNSET_KEY"], { env: { TS_TEST_UNSET_KEY: "" } });
    expect(unset.status).toBe(2);
    expect(unset.stderr).toContain("TS_TEST_UNSET_KEY (--api-key-env) is not set");

    const insecure = await startCli(["--host", "0.0.0.0", "--insecure"]);
    insecure.child.kill("SIGTERM");
    expect(await insecure.exited).toBe(0);

    const keyed = await startCli(["--host", "0.0.0.0", "--api-key-env", "TS_TEST_KEY"], { TS_TEST_KEY: "s3cret" });
    try {
      const url = keyed.url.replace("0.0.0.0", "127.0.0.1");
      const body = JSON.stringify({ prompt: "Hi", max_tokens: 2, seed: 1 });
      expect((await post(`${url}/v1/completions`, body)).status).toBe(401);
      expect((await post(`${url}/v1/completions`, body, { authorization: "Bearer wrong!" })).status).toBe(401);
      expect((await post(`${url}/v1/completions`, body, { authorization: "Bearer s3cret" })).status).toBe(200);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      keyed.child.kill("SIGTERM");
      expect(await keyed.exited).toBe(0);
    }
  }, 120_000);
});

describe("serve on bad requests", () => {
  let server: ServeHandle;
  beforeAll(async () => {
    server = await serveModel(ServeSchema.parse({ model: folder, port: 0, workers: 0, maxBodyBytes: 4096 }));
  }, 60_000);
  afterAll(async () => server?.stop());

  it("answers each kind with a 4xx that names it, and keeps serving", async () => {
    const url = server.url;
    const bad: Array<[string, string, number, RegExp]> = [
      ["/v1/completions", JSON.stringify({ prompt: "x".repeat(5000) }), 413, /over the limit of 4096 bytes/],
      ["/v1/completions", '{"prompt": "Hi", "max_tokens": 2', 400, /not valid JSON/],
      ["/v1/completions", "", 400, /no body/],
      ["/v1/completions", JSON.stringify({ prompt: "Hi", n: "two" }), 400, /^n: /],
      ["/v1/completions", JSON.stringify({ max_tokens: 3 }), 400, /^prompt: /],
      ["/v1/completions", JSON.stringify({ prompt: [1, 2, 99999] }), 400, /token id 99999 is outside the vocabulary/],
      ["/v1/completions", JSON.stringify({ prompt: "Hi", max_tokens: 600 }), 400, /maximum context length is 512 tokens/],
      ["/v1/completions", JSON.stringify({ prompt: "Hi", stream: true }), 400, /streaming is not supported/],
      ["/v1/completions", JSON.stringify({ prompt: "Hi", model: "gpt-5" }), 404, /`gpt-5` does not exist/],
      ["/v1/chat/completions", JSON.stringify({ messages: [] }), 404, /no such endpoint/],
      ["/detokenize", JSON.stringify({ tokens: [1, -2] }), 400, /^tokens\.1: /],
    ];
    for (const [path, body, status, message] of bad) {
      const r = await post(url + path, body);
      expect(r.status, `${path} ${body.slice(0, 60)}`).toBe(status);
      expect(r.json.message, `${path} ${body.slice(0, 60)}`).toMatch(message);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    }
    expect((await fetch(`${url}/v1/completions`)).status).toBe(405);
    const ok = await post(`${url}/v1/completions`, JSON.stringify({ prompt: "Hi", max_tokens: 2, seed: 3, n: 2 }));
    expect(ok.status).toBe(200);
    expect((ok.json.choices as unknown[]).length).toBe(2);
  }, 60_000);

  it("answers echo + logprobs + prompt_logprobs in vLLM's shape, with the engine's own numbers", async () => {
    const res = await post(`${server.url}/v1/completions`, JSON.stringify({ prompt: "The answer is", max_tokens: 3, seed: 9, temperature: 0, echo: true, logprobs: 2, prompt_logprobs: 2, return_token_ids: true }));
    expect(res.status).toBe(200);
    const choice = (res.json.choices as Array<Record<string, unknown>>)[0] as {
      text: string;
      token_ids: number[];
      prompt_token_ids: number[];
      logprobs: { tokens: string[]; token_logprobs: Array<number | null>; top_logprobs: Array<Record<string, number> | null>; text_offset: number[] };
      prompt_logprobs: Array<Record<string, { logprob: number; rank: number }> | null>;
    };
    const { prompt_token_ids: promptIds, token_ids: generated } = choice;
    const { logprobs, prompt_logprobs: promptLp } = choice;
    expect(logprobs.tokens.length).toBe(promptIds.length + generated.length);
    expect(logprobs.token_logprobs[0]).toBeNull();
    expect(promptLp[0]).toBeNull();
    expect(promptLp.length).toBe(promptIds.length);
    expect(logprobs.tokens.join("")).toBe(choice.text);
    expect(logprobs.text_offset[1]).toBe(logprobs.tokens[0].length);
    // The numbers are the in-process engine's scores of the same tokens.
    const local = await openEngine({ kind: "embedded", model: folder }, { workers: 0 });
    try {
      const scored = (await local.score({ prefix: promptIds.slice(0, 1), continuations: [[...promptIds.slice(1), ...generated]], distributions: "topk", topK: 2 })).continuations[0];
      expect(logprobs.token_logprobs.slice(1)).toEqual(scored.logprobs);
      promptIds.slice(1).forEach((id, j) => {
        const entry = promptLp[j + 1]!;
        expect(entry[String(id)].logprob).toBe(scored.logprobs[j]);
        const top = Object.entries(entry).filter(([, v]) => v.rank <= 2).sort((a, b) => a[1].rank - b[1].rank).map(([tid, v]): [number, number] => [Number(tid), v.logprob]);
        expect(top).toEqual(scored.topLogprobs![j]);
      });
      // Greedy: every generated token is the top-1 of its position.
      generated.forEach((id, j) => expect(scored.topLogprobs![promptIds.length - 1 + j][0][0]).toBe(id));
    } finally {
      await local.close();
    }
  }, 60_000);

  it("reports requests, latencies and tokens in Prometheus text format", async () => {
    await post(`${server.url}/v1/completions`, JSON.stringify({ prompt: "Hi", max_tokens: 2, seed: 3 }));
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain("# TYPE tokensqueeze_requests_total counter");
    expect(text).toMatch(/^tokensqueeze_requests_total\{endpoint="\/v1\/completions",status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^tokensqueeze_requests_total\{endpoint="\/v1\/completions",status="413"\} 1$/m);
    expect(text).toMatch(/^tokensqueeze_request_duration_seconds_bucket\{endpoint="\/v1\/completions",le="\+Inf"\} [1-9]\d*$/m);
    expect(text).toMatch(/^tokensqueeze_generation_tokens_total [1-9]\d*$/m);
    for (const line of text.trimEnd().split("\n")) expect(line).toMatch(/^(# (HELP|TYPE) \S+ .+|[a-z_]+(\{[^}]*\})? [0-9.e+-]+)$/);
  });
});

describe("serve shuts down gracefully", () => {
  it("on SIGTERM, finishes the requests in flight, then exits 0 and accepts no more", async () => {
    const served = await startCli([]);
    const body = (seed: number): string => JSON.stringify({ prompt: "Once", n: 8, max_tokens: 300, seed, temperature: 1 });
    const slow = [1, 2, 3, 4].map((seed) => post(`${served.url}/v1/completions`, body(seed)));
    // SIGTERM once the server reports model work in flight.
    for (let i = 0; ; i++) {
      const text = await (await fetch(`${served.url}/metrics`)).text();
      if (/^tokensqueeze_requests_in_flight [1-9]/m.test(text)) break;
      if (i > 500) throw new Error("no request ever in flight");
      await new Promise((r) => setTimeout(r, 5));
    }
    served.child.kill("SIGTERM");
    const answers = await Promise.all(slow);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect((a.json.choices as unknown[]).length).toBe(8);
    }
    expect(await served.exited).toBe(0);
    expect(served.stderr()).toMatch(/SIGTERM: finishing [1-4] request\(s\) in flight/);
    await expect(fetch(`${served.url}/health`)).rejects.toThrow();
  }, 120_000);
});
