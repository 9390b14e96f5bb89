/**
 * The HTTP side of every server dialect: JSON requests to one or more replicas of a server, with a per-request
 * timeout, retries (exponential backoff with full jitter) on connection errors, timeouts, 429, 5xx and bodies
 * that are not JSON, a bound on requests in flight, an optional bearer key, and least-outstanding-requests load
 * balancing. A replica that fails is taken out for a cool-down and tried again after it, so one dead replica
 * of three slows a run down by a third instead of stopping it.
 *
 * A request is retried as a whole and its answer returned once, so a caller that stores what a request returns
 * stores it exactly once however many attempts it took. Sampling is seeded, so a retried request asks for the
 * same completions again.
 */
import type { z } from "zod";
import { errorMessage } from "../../util/errors.js";
import { ErrorBodySchema } from "./schemas/vllm.js";

export interface TransportOptions {
  /** Server roots (scheme://host:port[/path]); a trailing /v1 is dropped, dialects add their own paths. */
  baseUrls: readonly string[];
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** One attempt's limit in ms (a stalled server is abandoned and the request retried elsewhere). */
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** Requests in flight over all replicas. */
  maxInFlight: number;
  /** First backoff delay in ms; attempt a waits a uniform random time in [0, min(maxBackoffMs, base · 2^a)]. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** How long a failed replica stays out before it is tried again (doubles per consecutive outage, ×16 at most). */
  cooldownMs?: number;
  /** Consecutive failures (other than a refused connection) that take a replica out. */
  failuresBeforeOut?: number;
}

/** A 4xx answer other than 429: the request itself is wrong, so it is not retried. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
    readonly detail: string,
  ) {
    super(`${url}: HTTP ${status}: ${detail}`);
    this.name = "HttpStatusError";
  }
}

/** The server answered with JSON in a shape the dialect does not know (named field); not retried. */
export class ResponseShapeError extends Error {
  constructor(url: string, detail: string) {
    super(`${url}: unexpected response: ${detail}`);
    this.name = "ResponseShapeError";
  }
}

interface Replica {
  root: string;
  outstanding: number;
  /** Epoch ms before which the replica is not chosen (unless every replica is out). */
  outUntil: number;
  consecutiveFailures: number;
  outages: number;
}

export interface TransportStats {
  requests: number;
  attempts: number;
  retries: number;
  /** Per replica root: attempts that failed, and whether it is out now. */
  replicas: Array<{ root: string; outstanding: number; failures: number; out: boolean }>;
}

/** Strips a trailing slash and /v1: the dialects know which paths live under /v1 and which at the root. */
export function serverRoot(raw: string): string {
  const url = new URL(raw);
  url.pathname = url.pathname.replace(/\/+$/, "").replace(/\/v1$/, "");
  url.search = "";
  url.hash = "";
  return url.href.replace(/\/+$/, "");
}

export class HttpTransport {
  private readonly replicas: Replica[];
  private readonly failures = new Map<string, number>();
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private rr = 0;
  private requests = 0;
  private attempts = 0;
  private retried = 0;
  private readonly opts: Required<Omit<TransportOptions, "apiKey">> & Pick<TransportOptions, "apiKey">;

  constructor(opts: TransportOptions) {
    if (opts.baseUrls.length === 0) throw new Error("HttpTransport needs at least one base URL");
    this.opts = { backoffMs: 250, maxBackoffMs: 8000, cooldownMs: 2000, failuresBeforeOut: 3, ...opts };
    this.replicas = [...new Set(opts.baseUrls.map(serverRoot))].map((root) => ({ root, outstanding: 0, outUntil: 0, consecutiveFailures: 0, outages: 0 }));
  }

  get roots(): string[] {
    return this.replicas.map((r) => r.root);
  }

  stats(): TransportStats {
    const now = Date.now();
    return {
      requests: this.requests,
      attempts: this.attempts,
      retries: this.retried,
      replicas: this.replicas.map((r) => ({ root: r.root, outstanding: r.outstanding, failures: this.failures.get(r.root) ?? 0, out: r.outUntil > now })),
    };
  }

  /** GET `path` on every replica once, without retries (opening probes which replicas answer). */
  async probeAll<S extends z.ZodType>(path: string, schema: S): Promise<Array<{ root: string; result?: z.output<S>; error?: Error }>> {
    return Promise.all(
      this.replicas.map(async (r) => {
        try {
          const result = await this.attempt(r, "GET", path, undefined, schema, undefined);
          return { root: r.root, result };
        } catch (err) {
          this.markFailed(r, err);
          return { root: r.root, error: err instanceof Error ? err : new Error(String(err)) };
        }
      }),
    );
  }

  /** GET or POST JSON; the answer is validated with `schema`. Retries transient failures on any replica. */
  async request<S extends z.ZodType>(method: "GET" | "POST", path: string, body: unknown, schema: S, opts: { signal?: AbortSignal; retries?: number } = {}): Promise<z.output<S>> {
    this.requests++;
    const retries = opts.retries ?? this.opts.retries;
    let lastError: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      opts.signal?.throwIfAborted();
      if (attempt > 0) {
        this.retried++;
        await sleep(this.backoff(attempt, lastError), opts.signal);
      }
      await this.acquire(opts.signal);
      const replica = this.pick();
      replica.outstanding++;
      try {
        const result = await this.attempt(replica, method, path, body, schema, opts.signal);
        replica.consecutiveFailures = 0;
        replica.outages = 0;
        return result;
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? err;
        if (!isTransient(err)) throw err;
        this.markFailed(replica, err);
        lastError = err;
      } finally {
        replica.outstanding--;
        this.release();
      }
    }
    throw new Error(`${method} ${path} failed after ${retries + 1} attempts on ${this.replicas.length} replica(s): ${errorMessage(lastError)}`);
  }

  private async attempt<S extends z.ZodType>(replica: Replica, method: string, path: string, body: unknown, schema: S, signal: AbortSignal | undefined): Promise<z.output<S>> {
    this.attempts++;
    const url = replica.root + path;
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.opts.apiKey !== undefined) headers.authorization = `Bearer ${this.opts.apiKey}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await res.text();
    } catch (err) {
      if (timeout.aborted && !signal?.aborted) throw new TransientError(`${url}: no answer within ${this.opts.timeoutMs} ms`);
      if (signal?.aborted) throw signal.reason ?? err;
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new TransientError(`${url}: ${errorMessage(cause ?? err)}`, cause?.code === "ECONNREFUSED");
    }
    if (res.status === 429 || res.status >= 500) {
      const retryAfter = Number(res.headers.get("retry-after"));
      throw new TransientError(`${url}: HTTP ${res.status}: ${errorDetail(text)}`, false, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
    }
    if (res.status >= 400) throw new HttpStatusError(res.status, url, errorDetail(text));
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // A cut or garbled body is a transport fault (a proxy, a dying worker), not a shape the server means.
      throw new TransientError(`${url}: the answer is not JSON (${text.length} bytes: ${JSON.stringify(text.slice(0, 80))})`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ResponseShapeError(url, `${issue.path.join(".") || "(body)"}: ${issue.message}`);
    }
    return parsed.data;
  }

  /** Least outstanding requests among replicas that are in; ties go round-robin. Every replica out: the one back soonest. */
  private pick(): Replica {
    const now = Date.now();
    const inService = this.replicas.filter((r) => r.outUntil <= now);
    if (inService.length === 0) return this.replicas.reduce((a, b) => (b.outUntil < a.outUntil ? b : a));
    const least = Math.min(...inService.map((r) => r.outstanding));
    const candidates = inService.filter((r) => r.outstanding === least);
    return candidates[this.rr++ % candidates.length];
  }

  private markFailed(replica: Replica, err: unknown): void {
    this.failures.set(replica.root, (this.failures.get(replica.root) ?? 0) + 1);
    replica.consecutiveFailures++;
    const refused = err instanceof TransientError && err.refused;
    if (refused || replica.consecutiveFailures >= this.opts.failuresBeforeOut) {
      const cooldown = this.opts.cooldownMs * Math.min(16, 2 ** replica.outages);
      replica.outages++;
      replica.consecutiveFailures = 0;
      replica.outUntil = Date.now() + cooldown * (0.5 + Math.random() / 2);
    }
  }

  private backoff(attempt: number, lastError: unknown): number {
    const cap = Math.min(this.opts.maxBackoffMs, this.opts.backoffMs * 2 ** (attempt - 1));
    const jittered = Math.random() * cap;
    const asked = lastError instanceof TransientError ? lastError.retryAfterMs : undefined;
    return asked !== undefined ? Math.min(this.opts.maxBackoffMs, Math.max(jittered, asked)) : jittered;
  }

  private async acquire(signal: AbortSignal | undefined): Promise<void> {
    while (this.inFlight >= this.opts.maxInFlight) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        // An aborted caller leaves the queue, so it neither waits forever nor takes a slot it no longer wants.
        const onAbort = (): void => {
          const i = this.waiting.indexOf(wake);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal?.reason ?? new Error("aborted"));
        };
        this.waiting.push(wake);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }
}

/** A failure worth another attempt (perhaps on another replica). */
class TransientError extends Error {
  constructor(
    message: string,
    readonly refused = false,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "TransientError";
  }
}

function isTransient(err: unknown): boolean {
  return err instanceof TransientError;
}

/** The server's own words: vLLM's `{message}`, OpenAI's `{error: {message}}`, else the start of the body. */
function errorDetail(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text.slice(0, 300) || "(empty body)";
  }
  const parsed = ErrorBodySchema.safeParse(body);
  if (parsed.success) {
    const b = parsed.data as { message?: unknown; error?: unknown };
    if (typeof b.message === "string") return b.message;
    if (typeof b.error === "string") return b.error;
    const inner = (b.error as { message?: unknown } | undefined)?.message;
    if (typeof inner === "string") return inner;
  }
  return text.slice(0, 300);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error("aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
