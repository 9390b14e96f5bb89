/**
 * `tokensqueeze serve`: an Engine (the embedded one) behind a vLLM-compatible HTTP API, so that the vLLM client
 * dialect, load tests and other tools can drive it like a GPU server.
 *
 * Safety: it listens on loopback unless told otherwise, and a non-loopback address needs an API key (or an
 * explicit `insecure`); bodies over the limit are refused with 413 before they are read into memory; a bad
 * request is a 400 naming the field and never stops the server. `close()` stops accepting connections and
 * resolves when every request in flight has been answered.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Engine } from "../engines/engine.js";
import { UserError } from "../util/errors.js";
import { BadRequest, completions, detokenize, modelsResponse, tokenize, type ServedModel } from "./completions.js";
import { ServeMetrics } from "./metrics.js";

export interface ServeOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Clients must send `Authorization: Bearer <apiKey>` (all endpoints but /health). */
  apiKey?: string;
  /** Allow a non-loopback address without an API key. */
  insecure: boolean;
  maxBodyBytes: number;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8000 */
  url: string;
  metrics: ServeMetrics;
  /** Stops accepting connections; resolves once requests in flight are answered. */
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The listening address is refused before anything is loaded when it would expose an open server. */
export function checkExposure(opts: Pick<ServeOptions, "host" | "apiKey" | "insecure">): void {
  if (isLoopback(opts.host) || opts.apiKey !== undefined || opts.insecure) return;
  throw new UserError(
    `serve: --host ${opts.host} is reachable from other machines; give clients a key with --api-key-env VAR (the variable holds the key) or pass --insecure`,
  );
}

export async function startServer(engine: Engine, model: ServedModel, opts: ServeOptions): Promise<RunningServer> {
  checkExposure(opts);
  const metrics = new ServeMetrics();
  let closing = false;
  const inFlight = new Set<Promise<void>>();

  const server: Server = createServer((req, res) => {
    const done = handle(req, res).catch(() => undefined);
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  });
  // Slow clients must not hold a socket forever; generation itself may take long, so only the headers are timed.
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const path = (req.url ?? "/").split("?")[0];
    const endpoint = ROUTES.has(path) ? path : "other";
    // The gauge counts model work, not the scrapes and health checks that read it.
    const counted = path !== "/metrics" && path !== "/health";
    if (counted) metrics.inFlight++;
    let status = 500;
    // A client that hangs up gets no answer: its request stops waiting for the engine (close() never aborts).
    const gone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) gone.abort(new Error("the client closed the connection"));
    });
    try {
      if (closing) res.setHeader("connection", "close");
      const answer = await route(req, path, gone.signal);
      status = answer.status;
      send(res, answer.status, answer.body, answer.contentType);
    } catch (err) {
      const e = err instanceof BadRequest ? err : err instanceof UserError ? new BadRequest(err.message) : null;
      status = e?.status ?? 500;
      const message = e?.message ?? `internal error: ${err instanceof Error ? err.message : String(err)}`;
      // The rest of an oversized body is never read: the connection closes after the answer.
      if (status === 413) res.setHeader("connection", "close");
      send(res, status, { object: "error", message, type: status === 500 ? "InternalServerError" : "BadRequestError", code: status });
      if (status === 413) req.resume();
    } finally {
      if (counted) metrics.inFlight--;
      metrics.record(endpoint, status, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  async function route(req: IncomingMessage, path: string, signal: AbortSignal): Promise<{ status: number; body: unknown; contentType?: string }> {
    if (path === "/health") return { status: 200, body: "", contentType: "text/plain" };
    if (opts.apiKey !== undefined && !authorized(req.headers.authorization, opts.apiKey)) throw new BadRequest("Unauthorized: send Authorization: Bearer <key>", 401);
    const method = req.method ?? "GET";
    if (path === "/metrics" && method === "GET") return { status: 200, body: metrics.render(), contentType: "text/plain; version=0.0.4" };
    if (path === "/v1/models" && method === "GET") return { status: 200, body: modelsResponse(model) };
    const post = POSTS[path];
    if (post === undefined) throw new BadRequest(ROUTES.has(path) ? `${path} takes ${path === "/v1/models" || path === "/metrics" ? "GET" : "POST"}` : `no such endpoint: ${path}`, ROUTES.has(path) ? 405 : 404);
    if (method !== "POST") throw new BadRequest(`${path} takes POST`, 405);
    const body = await readJson(req, opts.maxBodyBytes);
    return { status: 200, body: await post(body, signal) };
  }

  const POSTS: Record<string, (body: unknown, signal: AbortSignal) => Promise<unknown>> = {
    "/v1/completions": (body, signal) => completions(engine, model, body, metrics, signal),
    "/tokenize": (body) => tokenize(engine, model, body),
    "/detokenize": (body) => detokenize(engine, model, body),
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? new UserError(`serve: ${opts.host}:${opts.port} is already in use (--port)`) : err.code === "EADDRNOTAVAIL" ? new UserError(`serve: cannot listen on ${opts.host} (--host)`) : err),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    metrics,
    async close(): Promise<void> {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would hold close() open; busy ones close after their answer (connection: close).
      server.closeIdleConnections();
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      server.closeIdleConnections();
      await stopped;
    },
  };
}

const ROUTES = new Set(["/health", "/metrics", "/v1/models", "/v1/completions", "/tokenize", "/detokenize"]);

function authorized(header: string | undefined, key: string): boolean {
  const given = Buffer.from(header?.startsWith("Bearer ") ? header.slice(7) : "");
  const want = Buffer.from(key);
  return given.length === want.length && timingSafeEqual(given, want);
}

function send(res: ServerResponse, status: number, body: unknown, contentType = "application/json"): void {
  if (res.headersSent) return;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The body as JSON, refused with 413 once it passes the limit (by content-length, or while streaming in). */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new BadRequest(`request body of ${declared} bytes is over the limit of ${limit} bytes`, 413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BadRequest(`request body is over the limit of ${limit} bytes`, 413);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw new BadRequest("the request has no body (expected a JSON object)");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequest(`the request body is not valid JSON: ${(err as Error).message}`);
  }
}
