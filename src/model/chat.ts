/** Renders the model's Jinja chat template (tokenizer_config.json `chat_template`) with @huggingface/jinja. */
import { Template } from "@huggingface/jinja";
import { UserError } from "../util/errors.js";
import { specialTokenContent } from "./folder.js";

export interface ChatMessageLike {
  role: string;
  content: string;
}

export class ChatTemplate {
  private readonly template: Template;
  constructor(
    source: string,
    private readonly tokenizerConfig: Record<string, unknown>,
  ) {
    this.template = new Template(source);
  }

  render(messages: readonly ChatMessageLike[], opts: { addGenerationPrompt?: boolean } = {}): string {
    const specials: Record<string, string> = {};
    for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"]) {
      const v = specialTokenContent(this.tokenizerConfig[key]);
      if (v !== null) specials[key] = v;
    }
    try {
      return this.template.render({
        ...specials,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: opts.addGenerationPrompt ?? true,
      });
    } catch (err) {
      throw new UserError(`chat template failed to render: ${(err as Error).message}`);
    }
  }
}
