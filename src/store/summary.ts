/**
 * A run at a glance, for `tokensqueeze runs show`: the manifest, each stage's state, each table's size and
 * the command history, as one JSON-ready object and as text for a terminal.
 */
import { hostname } from "node:os";
import type { JsonValue } from "./json.js";
import { processAlive, type CommandRecord, type RunManifest, type RunStore, type StageInfo, type TableInfo } from "./run-store.js";

export type CommandState = CommandRecord["status"] | "killed";

export interface RunSummary extends Omit<RunManifest, "history"> {
  dir: string;
  config: JsonValue;
  stages: Array<StageInfo & { state: string }>;
  tables: TableInfo[];
  /** Newest last; `state` is "killed" for a command recorded as running whose process is gone. */
  history: Array<CommandRecord & { state: CommandState }>;
  historyTotal: number;
}

export function summarizeRun(store: RunStore, opts: { historyLimit?: number } = {}): RunSummary {
  const { history, ...manifest } = store.manifest();
  const limit = opts.historyLimit ?? Infinity;
  const host = hostname();
  return {
    dir: store.dir,
    ...manifest,
    config: store.config,
    stages: store.stages().map((s) => ({ ...s, state: s.ownerGone ? "killed" : s.status })),
    tables: store.tables(),
    history: history.slice(Math.max(0, history.length - limit)).map((c) => ({
      ...c,
      state: c.status === "running" && c.host === host && !processAlive(c.pid) ? "killed" : c.status,
    })),
    historyTotal: history.length,
  };
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => "  " + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd());
}

export function formatRunSummary(s: RunSummary): string {
  const lines: string[] = [];
  const code = `${s.code.version}${s.code.gitCommit ? ` (git ${s.code.gitCommit.slice(0, 10)}${s.code.dirty ? ", uncommitted changes" : ""})` : ""}`;
  lines.push(`Run ${s.dir}`);
  lines.push(
    ...table([
      ["created", `${s.createdAt} by tokensqueeze ${code}`],
      ["model", `${s.model.name} (${s.model.engine})${s.model.sha256 ? ` sha256 ${s.model.sha256.slice(0, 16)}…` : ""}`],
      ["seed", String(s.seed)],
      ["config", `${s.configHash.slice(0, 23)}…${s.configVersions > 1 ? ` (${s.configVersions} versions; changed with --force)` : ""}`],
    ]),
  );
  lines.push("", "Stages");
  if (s.stages.length === 0) lines.push("  (none run yet)");
  else {
    const rows = [["stage", "state", "done", "failed", "records", "updated"]];
    for (const st of s.stages) {
      rows.push([
        st.name,
        st.state,
        st.total !== null ? `${st.done}/${st.total}` : String(st.done),
        String(st.failed),
        String(st.records),
        st.updatedAt ?? "",
      ]);
    }
    lines.push(...table(rows));
    for (const st of s.stages) {
      if (st.lastError && st.status !== "archived") lines.push(`  ${st.name}: last error: ${st.lastError.split("\n")[0]}`);
    }
  }
  lines.push("", "Tables");
  if (s.tables.length === 0) lines.push("  (none)");
  else {
    const rows = [["table", "version", "rows", "stage", "key"]];
    for (const t of s.tables) rows.push([t.name, `v${t.version}`, String(t.rows), t.ownerStage ?? "", t.key.join(", ")]);
    lines.push(...table(rows));
  }
  lines.push("", s.historyTotal > s.history.length ? `History (last ${s.history.length} of ${s.historyTotal})` : "History");
  if (s.history.length === 0) lines.push("  (no commands recorded)");
  else {
    const rows = [["#", "started", "state", "command"]];
    for (const c of s.history) rows.push([String(c.id), c.startedAt, c.state, c.argv.join(" ")]);
    lines.push(...table(rows));
  }
  return lines.join("\n") + "\n";
}
