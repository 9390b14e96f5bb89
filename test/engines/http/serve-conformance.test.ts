/**
 * The conformance suite against the embedded engine in-process and against `tokensqueeze serve` over the same
 * folder through the vLLM dialect of the HTTP engine: every answer is identical (same seeds, same numbers).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../../src/engines/engine.js";
import { openEngine } from "../../../src/engines/factory.js";
import { ServeSchema } from "../../../src/config/schema.js";
import { serveModel, type ServeHandle } from "../../../src/serve/run.js";
import { repoRoot } from "../../helpers.js";
import { runConformance } from "../conformance.js";

const folder = `${repoRoot}/test/fixtures/tiny-llama`;
let server: ServeHandle;
let local: Engine;
let remote: Engine;

beforeAll(async () => {
  server = await serveModel(ServeSchema.parse({ model: folder, port: 0, workers: 0 }));
  local = await openEngine({ kind: "embedded", model: folder }, { workers: 0 });
  remote = await openEngine({ kind: "vllm", model: "unused", baseUrls: [`${server.url}/v1`] });
}, 60_000);

afterAll(async () => {
  await remote?.close();
  await local?.close();
  await server?.stop();
});

describe("engine conformance: embedded in-process and serve through the vllm dialect", () => {
  it("gives identical answers", async () => {
    const inProcess = await runConformance(local);
    const overHttp = await runConformance(remote);
    expect(Object.keys(overHttp)).toEqual(Object.keys(inProcess));
    for (const key of Object.keys(inProcess)) expect(overHttp[key], key).toEqual(inProcess[key]);
    // It did go over HTTP: the server answered the completions and tokenizer calls.
    expect(server.metrics.render()).toMatch(/tokensqueeze_requests_total\{endpoint="\/v1\/completions",status="200"\} [1-9]/);
    expect(server.metrics.render()).toMatch(/tokensqueeze_requests_total\{endpoint="\/tokenize",status="200"\} [1-9]/);
  }, 120_000);

  it("reports the model and what the server can do", async () => {
    expect(remote.identity).toEqual({ name: folder, engine: "vllm", sha256: local.identity.sha256 });
    const caps = await remote.capabilities();
    expect(caps).toEqual({ fullDistributions: true, promptLogprobs: true, maxTopK: 512, prefixReuse: false, maxContextTokens: 512, chatTemplate: (await local.capabilities()).chatTemplate });
  });
});
