/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of a real server: at set rates (drawn from a seeded
 * generator) it drops the connection before or after the upstream answered, answers 500 or 429, stalls
 * without answering, or cuts the upstream's JSON short; everything else passes through. `kill()` makes it die
 * the way a crashed replica does (open sockets reset, new connections refused).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface FaultRates {
  /** Connection closed before the upstream sees the request. */
  dropBefore: number;
  /** Upstream did the work, the answer is lost (the case that tempts a client to store twice). */
  dropAfter: number;
  error500: number;
  error429: number;
  /** No answer until the client gives up. */
  stall: number;
  /** 200 with the upstream's body cut in half. */
  malformed: number;
}

export type FaultKind = keyof FaultRates | "passed";

export interface FaultProxy {
  url: string;
  counts: Record<FaultKind, number>;
  /** Requests seen (any path). */
  seen: number;
  kill(): Promise<void>;
}

/** Mulberry32: the same seed gives the same fault sequence. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultProxy(upstream: string, rates: FaultRates, opts: { seed: number; stallMs?: number; onlyPost?: boolean }): Promise<FaultProxy> {
  const random = rng(opts.seed);
  const sockets = new Set<Socket>();
  const counts: Record<FaultKind, number> = { dropBefore: 0, dropAfter: 0, error500: 0, error429: 0, stall: 0, malformed: 0, passed: 0 };
  const proxy: FaultProxy = { url: "", counts, seen: 0, kill: async () => undefined };

  const forward = async (req: IncomingMessage, body: Buffer): Promise<{ status: number; text: string }> => {
    const res = await fetch(upstream + (req.url ?? "/"), {
      method: req.method,
      headers: { "content-type": "application/json", ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) },
      body: req.method === "POST" ? body : undefined,
    });
    return { status: res.status, text: await res.text() };
  };

  const pick = (): FaultKind => {
    let r = random();
    for (const kind of Object.keys(rates) as Array<keyof FaultRates>) {
      if (r < rates[kind]) return kind;
      r -= rates[kind];
    }
    return "passed";
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    proxy.seen++;
    const kind = opts.onlyPost !== false && req.method !== "POST" ? "passed" : pick();
    counts[kind]++;
    const json = (status: number, text: string): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(text);
    };
    switch (kind) {
      case "dropBefore":
        req.socket.destroy();
        return;
      case "dropAfter":
        await forward(req, body);
        req.socket.destroy();
        return;
      case "error500":
        return json(500, '{"object":"error","message":"injected internal error","code":500}');
      case "error429":
        return json(429, '{"object":"error","message":"injected: too many requests","code":429}');
      case "stall":
        setTimeout(() => req.socket.destroy(), opts.stallMs ?? 5000);
        return;
      case "malformed": {
        const up = await forward(req, body);
        return json(200, up.text.slice(0, Math.floor(up.text.length / 2)));
      }
      case "passed": {
        const up = await forward(req, body);
        return json(up.status, up.text);
      }
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      handle(req, res, Buffer.concat(chunks)).catch(() => req.socket.destroy());
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.kill = async () => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return proxy;
}
