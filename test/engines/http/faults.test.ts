/**
 * 1,000 generate requests through the vLLM dialect to three replicas of `serve` behind fault-injecting proxies
 * (dropped connections before and after the work, 500, 429, stalls past the timeout, cut JSON), one replica
 * dying mid-run: every request completes, each result is stored exactly once (a real SQLite table whose key
 * refuses a second row), and the results are the ones the model gives without faults.
 */
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServeSchema } from "../../../src/config/schema.js";
import type { Engine, GenerateRequest } from "../../../src/engines/engine.js";
import { openEngine } from "../../../src/engines/factory.js";
import { openHttpEngine } from "../../../src/engines/http/open.js";
import type { HttpEngine } from "../../../src/engines/http/engine.js";
import { serveModel, type ServeHandle } from "../../../src/serve/run.js";
import { repoRoot } from "../../helpers.js";
import { startFaultProxy, type FaultProxy, type FaultRates } from "./fault-proxy.js";

const folder = `${repoRoot}/test/fixtures/tiny-llama`;
const rates: FaultRates = { dropBefore: 0.03, dropAfter: 0.03, error500: 0.03, error429: 0.03, stall: 0.01, malformed: 0.03 };
const TOTAL = 1000;

let server: ServeHandle;
let proxies: FaultProxy[];

beforeAll(async () => {
  server = await serveModel(ServeSchema.parse({ model: folder, port: 0, workers: 0 }));
  proxies = await Promise.all([1, 2, 3].map((seed) => startFaultProxy(server.url, rates, { seed, stallMs: 3000 })));
}, 60_000);

afterAll(async () => {
  await Promise.all((proxies ?? []).map((p) => p.kill()));
  await server?.stop();
});

function request(i: number): GenerateRequest {
  return { prompt: `Problem ${i % 37}: add the numbers`, n: 1 + (i % 2), seed: i, temperature: 0.9, topP: 1, topK: 0, maxTokens: 3 };
}

describe("HTTP engine under injected faults", () => {
  it("completes 1,000 generate requests with every result stored exactly once while one of three replicas dies", async () => {
    const engine: HttpEngine = await openHttpEngine({
      kind: "vllm",
      baseUrls: proxies.map((p) => p.url),
      timeoutMs: 1000,
      retries: 40,
      maxInFlight: 32,
      probeTimeoutMs: 5000,
      backoffMs: 10,
      cooldownMs: 300,
    });
    const db = new Database(":memory:");
    db.exec("CREATE TABLE results (id INTEGER PRIMARY KEY, completions TEXT NOT NULL)");
    const insert = db.prepare("INSERT INTO results (id, completions) VALUES (?, ?)");
    let stored = 0;
    let killedAt = -1;
    // Work items in flight, as a stage runs them: each stores its result when its request returns.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < TOTAL) {
        const i = next++;
        const result = await engine.generate(request(i));
        insert.run(i, JSON.stringify(result.completions));
        stored++;
        if (stored === 300 && killedAt < 0) {
          killedAt = proxies[1].seen;
          await proxies[1].kill();
        }
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));

    expect((db.prepare("SELECT count(*) AS n FROM results").get() as { n: number }).n).toBe(TOTAL);
    expect(stored).toBe(TOTAL);
    // Every kind of fault happened, the dead replica saw nothing after it died, and the client retried.
    for (const kind of ["dropBefore", "dropAfter", "error500", "error429", "malformed", "stall"] as const) {
      expect(proxies.reduce((a, p) => a + p.counts[kind], 0), kind).toBeGreaterThan(kind === "stall" ? 0 : 10);
    }
    expect(proxies[1].seen).toBeGreaterThan(50);
    expect(proxies[1].seen).toBe(killedAt);
    const usage = engine.usage();
    expect(usage.retries).toBeGreaterThan(100);
    expect(usage.replicas.find((r) => r.root === proxies[1].url)!.failures).toBeGreaterThan(0);

    // The stored results are what the model gives without any fault (a sample, checked in-process).
    const local: Engine = await openEngine({ kind: "embedded", model: folder }, { workers: 0 });
    try {
      for (let i = 0; i < TOTAL; i += 25) {
        const row = db.prepare("SELECT completions FROM results WHERE id = ?").get(i) as { completions: string };
        expect(JSON.parse(row.completions), `request ${i}`).toEqual((await local.generate(request(i))).completions);
      }
    } finally {
      await local.close();
    }
  }, 300_000);
});
