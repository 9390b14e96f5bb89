/**
 * The engine flags read the same in every command: --engine KIND --base-url URL [--base-url …] --served-model
 * NAME. `generate` and `score` through `serve` print what they print in-process; a missing --base-url and
 * flags that do not fit the engine are exit-2 errors that say what to give instead.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServeSchema } from "../../../src/config/schema.js";
import { serveModel, type ServeHandle } from "../../../src/serve/run.js";
import { repoRoot, runCliAsync, sharedData } from "../../helpers.js";

const folder = join(repoRoot, "test", "fixtures", "tiny-llama");
let server: ServeHandle;

beforeAll(async () => {
  server = await serveModel(ServeSchema.parse({ model: folder, port: 0, workers: 0, servedModelName: "tiny" }));
}, 60_000);
afterAll(async () => server?.stop());

describe("engine flags", () => {
  it("generate and score through serve print what they print in-process", async () => {
    const gen = ["generate", "--prompt", "Once upon", "--n", "3", "--max-tokens", "6", "--temperature", "0.8", "--json"];
    const score = ["score", "--prefix", "The answer is", "--continuation", " 7", "--continuation", " seven", "--top-k", "3", "--json"];
    const remote = ["--engine", "vllm", "--base-url", server.url, "--base-url", `${server.url}/v1`, "--served-model", "tiny"];
    const [g1, g2, s1, s2] = await Promise.all([
      runCliAsync([...gen, "--model", folder]),
      runCliAsync([...gen, ...remote]),
      runCliAsync([...score, "--model", folder]),
      runCliAsync([...score, ...remote]),
    ]);
    for (const r of [g1, g2, s1, s2]) expect(r.status, r.stderr).toBe(0);
    const strip = (s: string): unknown => {
      const j = JSON.parse(s) as Record<string, unknown>;
      delete j.model;
      return j;
    };
    expect(strip(g2.stdout)).toEqual(strip(g1.stdout));
    expect(strip(s2.stdout)).toEqual(strip(s1.stdout));
  }, 120_000);

  it("a missing --base-url, --model for a server and --base-url for the embedded engine are exit-2 errors", async () => {
    const bench = ["--bench", "gsm8k", "--limit", "1", "--data-dir", sharedData];
    const [missing, model, embedded, unknownModel] = await Promise.all([
      runCliAsync(["eval", "--engine", "openai", "--served-model", "foo", ...bench]),
      runCliAsync(["eval", "--engine", "openai", "--model", "foo", ...bench]),
      runCliAsync(["generate", "--prompt", "Hi", "--base-url", server.url]),
      runCliAsync(["generate", "--prompt", "Hi", "--engine", "vllm", "--base-url", server.url, "--served-model", "other"]),
    ]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("engine openai needs the server's address: --base-url URL (config engine.baseUrls)");
    expect(model.status).toBe(2);
    expect(model.stderr).toContain("--model names a model folder of the embedded engine; a server (--engine openai) takes --served-model NAME");
    expect(embedded.status).toBe(2);
    expect(embedded.stderr).toContain("--base-url applies to a server engine (--engine vllm|sglang|llama-server|ollama|openai), not --engine embedded");
    expect(unknownModel.status).toBe(2);
    expect(unknownModel.stderr).toContain('the server serves "tiny", not "other" (--served-model)');
  }, 120_000);
});
