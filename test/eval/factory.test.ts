/** The engine factory: every way an engine cannot be opened is a UserError that names the problem. */
import { createServer as createHttpServer } from "node:http";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { normaliseBaseUrl, openEngine } from "../../src/engines/factory.js";
import { UserError } from "../../src/util/errors.js";
import { repoRoot, tempDir } from "../helpers.js";

async function userError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error("expected a UserError");
}

describe("openEngine", () => {
  it("opens the embedded engine on a model folder", async () => {
    const engine = await openEngine({ kind: "embedded", model: "test/fixtures/tiny-llama" }, { cwd: repoRoot });
    try {
      expect(engine.identity.engine).toBe("embedded");
      expect(engine.identity.name).toBe(join(repoRoot, "test", "fixtures", "tiny-llama"));
      expect(engine.identity.sha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await engine.close();
    }
  });

  it("names a missing or incomplete model folder", async () => {
    expect(await userError(openEngine({ kind: "embedded", model: "no/such/folder" }, { cwd: tempDir() }))).toMatch(/^model folder not found: no\/such\/folder/);
    const empty = tempDir();
    expect(await userError(openEngine({ kind: "embedded", model: empty }))).toContain(`model folder ${empty}: config.json is missing`);
  });

  it("says when a server cannot be reached, and when it answers but this build has no client for it", async () => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"object":"list","data":[]}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      expect(await userError(openEngine({ kind: "openai", model: `http://127.0.0.1:${port}` }))).toContain(
        `the server at http://127.0.0.1:${port}/v1 answers, but this version of tokensqueeze has no OpenAI-compatible engine yet`,
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
    // The same port, now closed.
    expect(await userError(openEngine({ kind: "openai", model: `http://127.0.0.1:${port}/v1` }))).toContain(`cannot reach the server at http://127.0.0.1:${port}/v1/models`);
    expect(await userError(openEngine({ kind: "openai", model: "localhost:8000" }))).toMatch(/http:\/\/ or https:\/\//);
    expect(await userError(openEngine({ kind: "openai", model: "http://127.0.0.1:1/v1", apiKeyEnv: "TS_TEST_NO_SUCH_KEY" }))).toContain("TS_TEST_NO_SUCH_KEY");
  });

  it("normalises base URLs to end in /v1", () => {
    expect(normaliseBaseUrl("http://localhost:8000").href).toBe("http://localhost:8000/v1");
    expect(normaliseBaseUrl("http://localhost:8000/v1/").href).toBe("http://localhost:8000/v1");
    expect(normaliseBaseUrl("https://host/api/v1").href).toBe("https://host/api/v1");
  });
});
