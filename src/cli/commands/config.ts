/** `tokensqueeze config show|presets`: print the resolved run configuration, list the named presets. */
import type { Command } from "commander";
import { collect } from "../options.js";


export function register(program: Command): void {
  const config = program.command("config").description("show the resolved run configuration and the named presets");

  config
    .command("show")
    .description("print the configuration a run would use: preset, then config file, then --set overrides")
    .option("--preset <name>", "start from a named preset (see `config presets`)")
    .option("--config <file>", "YAML or JSON config file")
    .option("--set <key.path=value>", "override one value, e.g. --set selection.alpha=0.3 (repeatable)", collect, [])
    .option("--json", "print JSON instead of YAML")
    .action(async (opts: { preset?: string; config?: string; set: string[]; json?: boolean }) => {
      const { resolveConfig, configToYaml } = await import("../../config/index.js");
      const resolved = resolveConfig({ preset: opts.preset, file: opts.config, overrides: opts.set });
      process.stdout.write(opts.json ? JSON.stringify(resolved, null, 2) + "\n" : configToYaml(resolved));
    });

  config
    .command("presets")
    .description("list the named presets")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      const { presetNames, presetDescriptions } = await import("../../config/index.js");
      if (opts.json) {
        const list = presetNames.map((name) => ({ name, description: presetDescriptions[name] }));
        process.stdout.write(JSON.stringify(list, null, 2) + "\n");
        return;
      }
      const width = Math.max(...presetNames.map((n) => n.length));
      for (const name of presetNames) process.stdout.write(`${name.padEnd(width)}  ${presetDescriptions[name]}\n`);
    });
}
