/**
 * The transport on real local servers: least-outstanding balancing over replicas, a refused replica taken out
 * and tried again after its cool-down, the API key sent, 4xx not retried, 429/5xx retried, the bound on
 * requests in flight kept.
 */
import { createServer, type Server } from "node:http";
import { z } from "zod";
import { afterEach, describe, expect, it } from "vitest";
import { HttpStatusError, HttpTransport } from "../../../src/engines/http/transport.js";

const Ok = z.object({ from: z.number() });
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(handler: (path: string, headers: Record<string, string | string[] | undefined>) => { status: number; body: string; delayMs?: number }, port = 0): Promise<{ url: string; port: number; hits: number; inFlight: number; maxInFlight: number; server: Server }> {
  const state = { url: "", port: 0, hits: 0, inFlight: 0, maxInFlight: 0, server: null as unknown as Server };
  const server = createServer((req, res) => {
    state.hits++;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    req.resume();
    req.on("end", () => {
      const a = handler(req.url ?? "/", req.headers);
      setTimeout(() => {
        state.inFlight--;
        res.writeHead(a.status, { "content-type": "application/json" });
        res.end(a.body);
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  servers.push(server);
  state.port = (server.address() as { port: number }).port;
  state.url = `http://127.0.0.1:${state.port}`;
  state.server = server;
  return state;
}

async function freePort(): Promise<number> {
  const s = await listen(() => ({ status: 200, body: "{}" }));
  servers.pop();
  await new Promise((r) => s.server.close(r));
  return s.port;
}

describe("HttpTransport", () => {
  it("spreads requests over replicas by outstanding requests, within the in-flight bound, with the API key", async () => {
    const keys = new Set<string | undefined>();
    const a = await listen((_p, h) => (keys.add(h.authorization as string), { status: 200, body: '{"from":1}', delayMs: 30 }));
    const b = await listen((_p, h) => (keys.add(h.authorization as string), { status: 200, body: '{"from":2}', delayMs: 30 }));
    const t = new HttpTransport({ baseUrls: [a.url + "/v1", b.url], apiKey: "k1", timeoutMs: 5000, retries: 0, maxInFlight: 6 });
    const got = await Promise.all(Array.from({ length: 40 }, () => t.request("POST", "/x", {}, Ok)));
    // Least outstanding first: an even split give or take the requests that finished early on a loaded machine
    // (exactly 20 / 20 and 3 in flight each when nothing else runs).
    const fromA = got.filter((g) => g.from === 1).length;
    expect(fromA).toBeGreaterThanOrEqual(15);
    expect(fromA).toBeLessThanOrEqual(25);
    expect(a.maxInFlight + b.maxInFlight).toBeLessThanOrEqual(6);
    expect(a.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(a.maxInFlight).toBeLessThanOrEqual(3);
    expect([...keys]).toEqual(["Bearer k1"]);
  });

  it("takes a refused replica out, tries it again after the cool-down, and uses it when it is back", async () => {
    const good = await listen(() => ({ status: 200, body: '{"from":1}' }));
    const port = await freePort();
    const t = new HttpTransport({ baseUrls: [good.url, `http://127.0.0.1:${port}`], timeoutMs: 2000, retries: 3, maxInFlight: 4, backoffMs: 1, cooldownMs: 200 });
    for (let i = 0; i < 10; i++) expect((await t.request("GET", "/x", undefined, Ok)).from).toBe(1);
    const stats = t.stats();
    // One refusal took it out; while out it was not tried again.
    expect(stats.replicas[1]).toMatchObject({ failures: 1, out: true });
    expect(stats.retries).toBe(1);
    const back = await listen(() => ({ status: 200, body: '{"from":2}' }), port);
    await new Promise((r) => setTimeout(r, 250));
    const after = await Promise.all(Array.from({ length: 10 }, () => t.request("GET", "/x", undefined, Ok)));
    expect(after.some((g) => g.from === 2)).toBe(true);
    expect(back.hits).toBeGreaterThan(0);
  });

  it("lets a caller waiting for a slot give up (abort) without taking the slot", async () => {
    const slow = await listen(() => ({ status: 200, body: '{"from":5}', delayMs: 150 }));
    const t = new HttpTransport({ baseUrls: [slow.url], timeoutMs: 2000, retries: 0, maxInFlight: 1 });
    const first = t.request("GET", "/x", undefined, Ok);
    const giveUp = new AbortController();
    const second = t.request("GET", "/x", undefined, Ok, { signal: giveUp.signal });
    giveUp.abort(new Error("not needed any more"));
    await expect(second).rejects.toThrow("not needed any more");
    expect(await first).toEqual({ from: 5 });
    expect(await t.request("GET", "/x", undefined, Ok)).toEqual({ from: 5 });
    expect(slow.hits).toBe(2);
  });

  it("retries 429 and 5xx, not other 4xx", async () => {
    let calls = 0;
    const flaky = await listen(() => (++calls <= 2 ? { status: calls === 1 ? 429 : 503, body: '{"message":"busy"}' } : { status: 200, body: '{"from":3}' }));
    const t = new HttpTransport({ baseUrls: [flaky.url], timeoutMs: 2000, retries: 5, maxInFlight: 1, backoffMs: 1, failuresBeforeOut: 10 });
    expect(await t.request("POST", "/x", {}, Ok)).toEqual({ from: 3 });
    expect(calls).toBe(3);
    const bad = await listen(() => ({ status: 400, body: '{"object":"error","message":"prompt_logprobs: too many"}' }));
    const t2 = new HttpTransport({ baseUrls: [bad.url], timeoutMs: 2000, retries: 5, maxInFlight: 1, backoffMs: 1 });
    const err = await t2.request("POST", "/x", {}, Ok).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as Error).message).toContain("HTTP 400: prompt_logprobs: too many");
    expect(bad.hits).toBe(1);
  });
});
