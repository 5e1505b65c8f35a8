/**
 * Turning chat messages into one prompt. A model that ships a chat template (tokenizer_config.json's
 * `chat_template`, or chat_template.jinja) is rendered with it through @huggingface/jinja, as
 * transformers' `apply_chat_template` does; the result already holds its special tokens (BOS), so it
 * is encoded without adding more. GPT-2 was never trained on a chat format, so without a template the
 * default is a plain transcript ("System: …\nUser: …\nAssistant:") with "\nUser:" as an implicit stop
 * string, so the model does not write the user's next turn.
 *
 * `--chat-template FILE` overrides both: a Jinja file (as vLLM's flag), or a `.json` transcript file
 *
 *   { "system": "System: {content}\n", "user": "User: {content}\n", "assistant": "Assistant: {content}\n",
 *     "generation_prompt": "Assistant:", "prefix": "", "stop": ["\nUser:"] }
 *
 * where each role string must contain `{content}` and missing keys keep the default's value.
 */
import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import type { Tokenizer } from '../tokenizer/index.js';
import { badParam } from './errors.js';
import type { ChatMessageIn } from './openai-schema.js';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatTemplate {
  /** Text before the first message. */
  readonly prefix: string;
  /** Per role, with `{content}` where the message goes. */
  readonly roles: Readonly<Record<ChatRole, string>>;
  /** Appended after the messages to cue the assistant's reply. */
  readonly generationPrompt: string;
  /** Stop strings added to every chat request. */
  readonly stop: readonly string[];
}

export const DEFAULT_CHAT_TEMPLATE: ChatTemplate = {
  prefix: '',
  roles: { system: 'System: {content}\n', user: 'User: {content}\n', assistant: 'Assistant: {content}\n' },
  generationPrompt: 'Assistant:',
  stop: ['\nUser:'],
};

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

/** Validates a parsed template file; errors name the file and the key. */
export function parseChatTemplate(json: unknown, source: string): ChatTemplate {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`Chat template ${source}: expected a JSON object`);
  }
  const obj = json as Record<string, unknown>;
  const str = (key: string, fallback: string): string => {
    const v = obj[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string') throw new Error(`Chat template ${source}: "${key}" must be a string`);
    return v;
  };
  const role = (key: ChatRole): string => {
    const v = str(key, DEFAULT_CHAT_TEMPLATE.roles[key]);
    if (!v.includes('{content}')) throw new Error(`Chat template ${source}: "${key}" must contain {content}`);
    return v;
  };
  const stop = obj.stop ?? DEFAULT_CHAT_TEMPLATE.stop;
  if (!Array.isArray(stop) || !stop.every((s) => typeof s === 'string')) {
    throw new Error(`Chat template ${source}: "stop" must be an array of strings`);
  }
  const known = new Set(['prefix', 'system', 'user', 'assistant', 'generation_prompt', 'stop']);
  const unknown = Object.keys(obj).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new Error(`Chat template ${source}: unknown key "${unknown[0]}"`);
  return {
    prefix: str('prefix', DEFAULT_CHAT_TEMPLATE.prefix),
    roles: { system: role('system'), user: role('user'), assistant: role('assistant') },
    generationPrompt: str('generation_prompt', DEFAULT_CHAT_TEMPLATE.generationPrompt),
    stop: stop as string[],
  };
}

/** Jinja source of a chat template and where it came from (for error messages). */
export interface JinjaChatTemplate {
  readonly jinja: string;
  readonly source: string;
}

/** A `--chat-template` choice: a transcript template, or Jinja to render with the model's tokens. */
export type ChatTemplateOption = ChatTemplate | JinjaChatTemplate;

/** Reads `--chat-template FILE`: `.json` is a transcript template, anything else Jinja. */
export function loadChatTemplate(file: string): ChatTemplateOption {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`Chat template ${file}: ${(e as Error).message}`);
  }
  if (!file.toLowerCase().endsWith('.json')) {
    const t = { jinja: text, source: file };
    compileJinja(t);
    return t;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`Chat template ${file}: ${(e as Error).message}`);
  }
  return parseChatTemplate(json, file);
}

/** How a server renders chat messages into prompt text and token ids. */
export interface ChatFormat {
  /** Rendered prompt; a template error (e.g. `raise_exception`) is a 400 naming `messages`. */
  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string;
  /** Stop strings added to every chat request. */
  readonly stop: readonly string[];
  /** Whether encoding the prompt adds the tokenizer's BOS/EOS (not when the template wrote them). */
  readonly addSpecialTokens: boolean;
}

function compileJinja(t: JinjaChatTemplate): Template {
  try {
    return new Template(t.jinja);
  } catch (e) {
    throw new Error(`Chat template ${t.source}: ${(e as Error).message}`);
  }
}

export function transcriptFormat(template: ChatTemplate): ChatFormat {
  return { render: (m, g) => renderChat(template, m, g), stop: template.stop, addSpecialTokens: true };
}

/** Renders with the variables transformers passes: messages, add_generation_prompt, bos/eos tokens. */
export function jinjaFormat(t: JinjaChatTemplate, tokenizer: Pick<Tokenizer, 'bosToken' | 'eosToken'>): ChatFormat {
  // A model's template that does not parse must not take the server down: chat requests report it.
  let compiled: Template | Error;
  try {
    compiled = compileJinja(t);
  } catch (e) {
    compiled = e as Error;
  }
  return {
    render: (messages, addGenerationPrompt) => {
      if (compiled instanceof Error) throw badParam('messages', compiled.message);
      try {
        return compiled.render({
          messages: messages.map((m) => ({ role: m.role, content: m.content })),
          add_generation_prompt: addGenerationPrompt,
          bos_token: tokenizer.bosToken ?? '',
          eos_token: tokenizer.eosToken,
        });
      } catch (e) {
        throw badParam('messages', `The chat template could not render these messages: ${(e as Error).message}`);
      }
    },
    stop: [],
    addSpecialTokens: false,
  };
}

/** `--chat-template` if given, else the model's own template, else the plain transcript. */
export function resolveChatFormat(option: ChatTemplateOption | undefined, tokenizer: Tokenizer): ChatFormat {
  if (option !== undefined) return 'jinja' in option ? jinjaFormat(option, tokenizer) : transcriptFormat(option);
  if (tokenizer.chatTemplate !== null) return jinjaFormat({ jinja: tokenizer.chatTemplate, source: 'tokenizer_config.json chat_template' }, tokenizer);
  return transcriptFormat(DEFAULT_CHAT_TEMPLATE);
}

/** Message content as text: a string, or an array of `{type: "text", text}` parts joined by newlines. */
function contentText(content: unknown, i: number): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) {
    throw badParam(`messages[${i}].content`, `Invalid value for 'messages[${i}].content': must be a string or an array of text parts.`);
  }
  return content
    .map((part: unknown, j) => {
      const p = part as { type?: unknown; text?: unknown } | null;
      if (p === null || typeof p !== 'object' || p.type !== 'text' || typeof p.text !== 'string') {
        throw badParam(`messages[${i}].content[${j}]`, `Invalid content part 'messages[${i}].content[${j}]': only {"type": "text", "text": string} parts are supported.`);
      }
      return p.text;
    })
    .join('\n');
}

/** Checks roles and flattens content; `developer` is OpenAI's newer name for `system`. */
export function normalizeMessages(messages: readonly ChatMessageIn[]): ChatMessage[] {
  return messages.map((m, i) => {
    const role = m.role === 'developer' ? 'system' : m.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant') {
      throw badParam(`messages[${i}].role`, `Invalid value for 'messages[${i}].role': '${m.role}' is not supported; use system, developer, user or assistant.`);
    }
    return { role, content: contentText(m.content, i) };
  });
}

export function renderChat(template: ChatTemplate, messages: readonly ChatMessage[], addGenerationPrompt = true): string {
  let text = template.prefix;
  for (const m of messages) text += template.roles[m.role].split('{content}').join(m.content);
  return addGenerationPrompt ? text + template.generationPrompt : text;
}
