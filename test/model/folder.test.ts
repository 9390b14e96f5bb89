import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModelFolder } from "../../src/model/folder.js";
import { repoRoot, tempDir } from "../helpers.js";

const fixture = join(repoRoot, "test", "fixtures", "tiny-llama");

describe("model folder chat template", () => {
  it("prefers chat_template.jinja (as transformers 5 saves it) over tokenizer_config.json's field", () => {
    const dir = join(tempDir(), "model");
    cpSync(fixture, dir, { recursive: true });
    const fromConfig = loadModelFolder(dir).chatTemplate;
    expect(fromConfig).not.toBeNull();
    const jinja = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}";
    writeFileSync(join(dir, "chat_template.jinja"), jinja);
    expect(loadModelFolder(dir).chatTemplate).toBe(jinja);
  });

  it("names chat_template.jinja when its template does not parse", () => {
    const dir = join(tempDir(), "model");
    cpSync(fixture, dir, { recursive: true });
    writeFileSync(join(dir, "chat_template.jinja"), "{% for m in messages %}unclosed");
    expect(() => loadModelFolder(dir)).toThrow(/chat_template\.jinja: field "chat_template": cannot parse/);
  });
});
