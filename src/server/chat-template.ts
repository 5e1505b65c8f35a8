/**
 * Turning chat messages into one prompt. GPT-2 was never trained on a chat format, so the default is
 * a plain transcript ("System: …\nUser: …\nAssistant:") with "\nUser:" as an implicit stop string, so
 * the model does not write the user's next turn. `--chat-template FILE` replaces it with a JSON file:
 *
 *   { "system": "System: {content}\n", "user": "User: {content}\n", "assistant": "Assistant: {content}\n",
 *     "generation_prompt": "Assistant:", "prefix": "", "stop": ["\nUser:"] }
 *
 * Each role string must contain `{content}`; missing keys keep the default's value.
 */
import { readFileSync } from 'node:fs';
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

export function loadChatTemplate(file: string): ChatTemplate {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`Chat template ${file}: ${(e as Error).message}`);
  }
  return parseChatTemplate(json, file);
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
