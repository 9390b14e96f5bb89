/** The engine factory: every way an engine cannot be opened is a UserError that names the problem. */
import { createServer as createHttpServer } from "node:http";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openEngine } from "../../src/engines/factory.js";
import { serverRoot } from "../../src/engines/http/transport.js";
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

  it("says when a server cannot be reached, and opens a server engine when it answers", async () => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"object":"list","data":[{"id":"m1","object":"model","max_model_len":2048}]}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const engine = await openEngine({ kind: "vllm", model: "unused", baseUrls: [`http://127.0.0.1:${port}/v1`] });
      expect(engine.identity).toEqual({ name: "m1", engine: "vllm" });
      expect(await userError(openEngine({ kind: "vllm", model: "unused", baseUrls: [`http://127.0.0.1:${port}`], servedModelName: "m2" }))).toContain('serves "m1", not "m2"');
    } finally {
      await new Promise((r) => server.close(r));
    }
    // The same port, now closed.
    expect(await userError(openEngine({ kind: "openai", model: "unused", baseUrls: [`http://127.0.0.1:${port}/v1`] }))).toContain(`no server answered: http://127.0.0.1:${port}: http://127.0.0.1:${port}/v1/models`);
    expect(await userError(openEngine({ kind: "vllm", model: "unused", baseUrls: ["localhost:8000"] }))).toMatch(/http:\/\/ or https:\/\//);
    expect(await userError(openEngine({ kind: "sglang", model: "unused", baseUrls: ["http://127.0.0.1:1"], apiKeyEnv: "TS_TEST_NO_SUCH_KEY" }))).toContain("TS_TEST_NO_SUCH_KEY");
    expect(await userError(openEngine({ kind: "vllm", model: "unused" }))).toContain("needs the server's address: --base-url URL");
  });

  it("reduces base URLs to the server root (dialects add /v1 where theirs lives)", () => {
    expect(serverRoot("http://localhost:8000")).toBe("http://localhost:8000");
    expect(serverRoot("http://localhost:8000/v1/")).toBe("http://localhost:8000");
    expect(serverRoot("https://host/api/v1")).toBe("https://host/api");
  });
});
