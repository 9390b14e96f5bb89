/**
 * Opening an HTTP engine: check every base URL, learn the served model (its name, context length and, from
 * `tokensqueeze serve`, its weights' hash) from the first replica that answers, and build the engine. A replica
 * that does not answer now is not fatal (the transport takes it out and tries it later); none answering is.
 */
import { UserError } from "../../util/errors.js";
import { EngineUnavailableError } from "../engine.js";
import type { Dialect, DialectContext, ServerKind } from "./dialect.js";
import { HttpEngine } from "./engine.js";
import { LlamaServerDialect } from "./llama-server.js";
import { OllamaDialect } from "./ollama.js";
import { OpenAIDialect } from "./openai.js";
import { SglangDialect } from "./sglang.js";
import { HttpStatusError, HttpTransport, serverRoot } from "./transport.js";
import { OllamaTagsSchema } from "./schemas/ollama.js";
import { VllmModelsResponseSchema } from "./schemas/vllm.js";
import { VllmDialect } from "./vllm.js";

export interface HttpEngineSpec {
  kind: ServerKind;
  baseUrls: readonly string[];
  /** The model name sent in requests; default: the first model the server lists. */
  servedModelName?: string;
  apiKey?: string;
  timeoutMs: number;
  retries: number;
  maxInFlight: number;
  /** Limit for the opening check of each base URL. */
  probeTimeoutMs: number;
  /** Transport tuning for tests (backoff, cool-down). */
  backoffMs?: number;
  cooldownMs?: number;
}

const dialects: Record<ServerKind, (ctx: DialectContext) => Dialect> = {
  vllm: (ctx) => new VllmDialect(ctx),
  sglang: (ctx) => new SglangDialect(ctx),
  "llama-server": (ctx) => new LlamaServerDialect(ctx),
  ollama: (ctx) => new OllamaDialect(ctx),
  openai: (ctx) => new OpenAIDialect(ctx),
};

export async function openHttpEngine(spec: HttpEngineSpec): Promise<HttpEngine> {
  for (const raw of spec.baseUrls) checkUrl(spec.kind, raw);
  const probe = new HttpTransport({ baseUrls: spec.baseUrls, apiKey: spec.apiKey, timeoutMs: spec.probeTimeoutMs, retries: 0, maxInFlight: spec.baseUrls.length });
  const models = spec.kind === "ollama" ? await listOllama(probe) : await listOpenAI(probe);
  const card = spec.servedModelName === undefined ? models[0] : models.find((m) => m.id === spec.servedModelName);
  if (spec.servedModelName !== undefined && card === undefined && models.length > 0) {
    throw new UserError(`engine ${spec.kind}: the server serves ${models.map((m) => `"${m.id}"`).join(", ")}, not "${spec.servedModelName}" (--served-model)`);
  }
  const model = spec.servedModelName ?? card?.id;
  const transport = new HttpTransport({
    baseUrls: spec.baseUrls,
    apiKey: spec.apiKey,
    timeoutMs: spec.timeoutMs,
    retries: spec.retries,
    maxInFlight: spec.maxInFlight,
    backoffMs: spec.backoffMs,
    cooldownMs: spec.cooldownMs,
  });
  const usage = { promptTokens: 0, completionTokens: 0 };
  const ctx: DialectContext = { transport, model, usage, maxContextTokens: card?.maxModelLen };
  const identity = { name: model ?? transport.roots[0], engine: spec.kind, ...(card?.sha256 ? { sha256: card.sha256 } : {}) };
  return new HttpEngine(identity, dialects[spec.kind](ctx), transport, usage);
}

interface ModelCard {
  id: string;
  maxModelLen?: number;
  sha256?: string;
}

function checkUrl(kind: ServerKind, raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UserError(`engine ${kind}: --base-url "${raw}" is not a URL (expected e.g. http://localhost:8000)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UserError(`engine ${kind}: --base-url "${raw}" must be an http:// or https:// URL`);
}

/** GET /v1/models on every replica; the first answer names the model. */
async function listOpenAI(probe: HttpTransport): Promise<ModelCard[]> {
  const answers = await probe.probeAll("/v1/models", VllmModelsResponseSchema);
  const ok = answers.find((a) => a.result !== undefined);
  if (ok?.result === undefined) throw unreachable(answers);
  return ok.result.data.map((d) => ({ id: d.id, maxModelLen: d.max_model_len ?? undefined, sha256: d.sha256 }));
}

async function listOllama(probe: HttpTransport): Promise<ModelCard[]> {
  const answers = await probe.probeAll("/api/tags", OllamaTagsSchema);
  const ok = answers.find((a) => a.result !== undefined);
  if (ok?.result === undefined) throw unreachable(answers);
  return ok.result.models.map((m) => ({ id: m.name }));
}

function unreachable(answers: Array<{ root: string; error?: Error }>): Error {
  const keyProblem = answers.find((a) => a.error instanceof HttpStatusError && (a.error.status === 401 || a.error.status === 403));
  if (keyProblem) return new UserError(`the server at ${keyProblem.root} refused the request (${keyProblem.error?.message}); check the API key (engine.apiKeyEnv / --api-key-env)`);
  return new EngineUnavailableError(`no server answered: ${answers.map((a) => `${serverRoot(a.root)}: ${a.error?.message ?? "?"}`).join("; ")}`);
}
