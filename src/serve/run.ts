/**
 * Serving a model until told to stop: open it through `openEngine`, check the listening address, start the
 * server, and on SIGINT/SIGTERM finish the requests in flight before closing the engine.
 */
import { openEngine } from "../engines/factory.js";
import { type ServeConfig } from "../config/schema.js";
import { UserError } from "../util/errors.js";
import { TokenPieces, type ServedModel } from "./completions.js";
import { checkExposure, startServer, type RunningServer } from "./server.js";

export interface ServeHandle extends RunningServer {
  model: ServedModel;
  /** Finishes requests in flight, then releases the engine. */
  stop(): Promise<void>;
}

/** Opens the model and starts serving it; the caller decides when to stop. */
export async function serveModel(config: ServeConfig, opts: { cwd?: string } = {}): Promise<ServeHandle> {
  const apiKey = config.apiKeyEnv !== undefined ? process.env[config.apiKeyEnv] : undefined;
  if (config.apiKeyEnv !== undefined && (apiKey === undefined || apiKey === "")) throw new UserError(`serve: the environment variable ${config.apiKeyEnv} (--api-key-env) is not set`);
  const listen = { host: config.host, port: config.port, apiKey, insecure: config.insecure, maxBodyBytes: config.maxBodyBytes };
  checkExposure(listen);
  const engine = await openEngine({ kind: "embedded", model: config.model }, { cwd: opts.cwd, workers: config.workers });
  try {
    const caps = await engine.capabilities();
    const model: ServedModel = {
      name: config.servedModelName ?? config.model,
      root: engine.identity.name,
      maxModelLen: caps.maxContextTokens,
      // The embedded engine's top-k limit is its whole vocabulary.
      vocabSize: caps.maxTopK,
      sha256: engine.identity.sha256,
      maxLogprobs: config.maxLogprobs,
      pieces: new TokenPieces(),
    };
    const server = await startServer(engine, model, listen);
    return {
      ...server,
      model,
      async stop(): Promise<void> {
        await server.close();
        await engine.close();
      },
    };
  } catch (err) {
    await engine.close();
    throw err;
  }
}

/** Serves until SIGINT or SIGTERM, then shuts down gracefully; `onListening` gets the URL. */
export async function serveUntilSignalled(config: ServeConfig, onListening: (handle: ServeHandle) => void): Promise<void> {
  // Listening for the signals before anything starts: one that arrives while the model loads still stops it cleanly.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  const handle = await serveModel(config);
  onListening(handle);
  const signal = await signalled;
  process.stderr.write(`tokensqueeze serve: ${signal}: finishing ${handle.metrics.inFlight} request(s) in flight\n`);
  await handle.stop();
}
