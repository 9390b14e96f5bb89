/** A real HTTP server on 127.0.0.1 that answers with recorded bodies and keeps every request it got. */
import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../helpers.js";

export interface Recorded {
  method: string;
  path: string;
  body: unknown;
}

export function fixture(name: string): string {
  return readFileSync(join(repoRoot, "test", "fixtures", "http", name), "utf8");
}

export async function replayServer(answer: (path: string, body: Record<string, unknown>) => { status?: number; body: string }): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      const body = raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>);
      const path = (req.url ?? "/").split("?")[0];
      requests.push({ method: req.method ?? "GET", path, body });
      const a = answer(path, body);
      res.writeHead(a.status ?? 200, { "content-type": "application/json" });
      res.end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
