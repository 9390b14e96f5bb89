/** Run configuration: the schema (METHOD.md's defaults), named presets, and resolution preset → file → overrides. */
export * from "./schema.js";
export { presets, presetNames, presetDescriptions, isPresetName, type PresetName } from "./presets.js";
export {
  resolveConfig,
  configToYaml,
  parseOverride,
  formatIssue,
  ConfigError,
  type ConfigIssue,
  type ResolveOptions,
  type KeyPath,
} from "./resolve.js";
