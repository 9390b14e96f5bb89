/**
 * A bounded loopback load test of `tokensqueeze serve`, against the same engine called in-process in the same run:
 *
 *   node --import tsx bench/serve-load.ts [--model models/world-base] [--clients 200] [--requests 600]
 *        [--max-tokens 16] [--workers N] [--rounds 2]
 *
 * Each side runs `--clients` concurrent clients that share `--requests` requests (prompt "Problem i: …", one
 * completion, seed i, temperature 0.9, `--max-tokens` new tokens). Over HTTP a client is a plain fetch loop to
 * POST /v1/completions of a serve started here on 127.0.0.1 (its own engine, same worker count); in-process it is
 * the same loop calling engine.generate. Sides alternate per round (in-process first in odd rounds) so load drift
 * on a shared machine hits both alike; figures are per side over all rounds. Every HTTP answer must be 200 with
 * the same completion text as in-process (checked), else the run fails. Prints one JSON object.
 */
import { availableParallelism, cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { ServeSchema } from "../src/config/schema.js";
import type { Engine, GenerateRequest } from "../src/engines/engine.js";
import { openEngine } from "../src/engines/factory.js";
import { serveModel } from "../src/serve/run.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "models/world-base" },
    clients: { type: "string", default: "200" },
    requests: { type: "string", default: "600" },
    "max-tokens": { type: "string", default: "16" },
    workers: { type: "string" },
    rounds: { type: "string", default: "2" },
  },
});
const clients = Number(values.clients);
const total = Number(values.requests);
const maxTokens = Number(values["max-tokens"]);
const rounds = Number(values.rounds);
const workers = values.workers !== undefined ? Number(values.workers) : Math.min(8, availableParallelism());

const request = (i: number): GenerateRequest => ({ prompt: `Problem ${i}: what is ${i % 97} + ${i % 13}?`, n: 1, seed: i, temperature: 0.9, topP: 1, topK: 0, maxTokens });

interface SideResult {
  latenciesMs: number[];
  seconds: number;
  tokens: number;
  errors: number;
  texts: Map<number, string>;
}

/** `clients` loops sharing the request indices; returns per-request latencies and the wall time. */
async function drive(call: (i: number) => Promise<{ text: string; tokens: number } | null>): Promise<SideResult> {
  const out: SideResult = { latenciesMs: [], seconds: 0, tokens: 0, errors: 0, texts: new Map() };
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        const r = await call(i);
        out.latenciesMs.push(performance.now() - s);
        if (r === null) out.errors++;
        else {
          out.tokens += r.tokens;
          out.texts.set(i, r.text);
        }
      }
    }),
  );
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

function summary(rs: SideResult[]): Record<string, number> {
  const lat = rs.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const seconds = rs.reduce((a, r) => a + r.seconds, 0);
  const requests = lat.length;
  return {
    requests,
    errors: rs.reduce((a, r) => a + r.errors, 0),
    p50Ms: Math.round(q(0.5)),
    p99Ms: Math.round(q(0.99)),
    requestsPerSecond: Number((requests / seconds).toFixed(2)),
    tokensPerSecond: Number((rs.reduce((a, r) => a + r.tokens, 0) / seconds).toFixed(1)),
  };
}

async function main(): Promise<void> {
  const engine: Engine = await openEngine({ kind: "embedded", model: values.model as string }, { workers });
  const server = await serveModel(ServeSchema.parse({ model: values.model, port: 0, workers }));
  const url = `${server.url}/v1/completions`;
  const inProcess = async (i: number): Promise<{ text: string; tokens: number }> => {
    const c = (await engine.generate(request(i))).completions[0];
    return { text: c.text, tokens: c.tokenIds.length };
  };
  const overHttp = async (i: number): Promise<{ text: string; tokens: number } | null> => {
    const r = request(i);
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: r.prompt, n: 1, seed: r.seed, temperature: r.temperature, max_tokens: r.maxTokens, return_token_ids: true }),
    }).catch(() => null);
    if (res === null || res.status !== 200) return null;
    const body = (await res.json()) as { choices: Array<{ text: string; token_ids: number[] }> };
    return { text: body.choices[0].text, tokens: body.choices[0].token_ids.length };
  };
  // Warm both (worker start-up, JIT) before anything is timed.
  await Promise.all(Array.from({ length: 8 }, (_, i) => Promise.all([inProcess(i), overHttp(i)])));

  const sides: Record<"inProcess" | "serve", SideResult[]> = { inProcess: [], serve: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (["inProcess", "serve"] as const) : (["serve", "inProcess"] as const);
    for (const side of order) sides[side].push(await drive(side === "serve" ? overHttp : inProcess));
  }
  let mismatches = 0;
  for (const [k, s] of sides.serve.entries()) for (const [i, text] of s.texts) if (sides.inProcess[k].texts.get(i) !== text) mismatches++;
  await server.stop();
  await engine.close();

  const a = summary(sides.inProcess);
  const b = summary(sides.serve);
  console.log(
    JSON.stringify(
      {
        command: `node --import tsx bench/serve-load.ts ${process.argv.slice(2).join(" ")}`.trim(),
        model: values.model,
        clients,
        requestsPerRound: total,
        rounds,
        maxTokens,
        workers,
        cpus: cpus().length,
        loadavg1m: loadavg()[0],
        inProcess: a,
        serve: b,
        perRoundRequestsPerSecond: {
          inProcess: sides.inProcess.map((r) => Number((r.latenciesMs.length / r.seconds).toFixed(2))),
          serve: sides.serve.map((r) => Number((r.latenciesMs.length / r.seconds).toFixed(2))),
        },
        textMismatches: mismatches,
        ratio: {
          throughputServeOverInProcess: Number((b.requestsPerSecond / a.requestsPerSecond).toFixed(3)),
          p50ServeOverInProcess: Number((b.p50Ms / a.p50Ms).toFixed(3)),
          p99ServeOverInProcess: Number((b.p99Ms / a.p99Ms).toFixed(3)),
        },
      },
      null,
      2,
    ),
  );
  if (b.errors > 0 || mismatches > 0) process.exitCode = 1;
}

await main();
