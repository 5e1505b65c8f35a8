/**
 * `tokenizer_config.json` (and `chat_template.jinja`): what transformers keeps beside tokenizer.json:
 * the names of the BOS/EOS tokens and the chat template. All optional; GPT-2 has none of it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isObject, parseJson, type Json } from './json.js';

export interface TokenizerConfig {
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  /** Jinja source of the default chat template, or null. */
  readonly chatTemplate: string | null;
}

export const EMPTY_TOKENIZER_CONFIG: TokenizerConfig = { bosToken: null, eosToken: null, chatTemplate: null };

/** A special-token entry is a string or an AddedToken-like object `{content: ...}`. */
function tokenName(v: Json | undefined, where: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  throw new Error(`${where}: expected a string or {"content": string}`);
}

/** `chat_template` is a string, or a list of {name, template} of which "default" is the one used. */
function chatTemplateOf(v: Json | undefined, where: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.filter(isObject);
    const pick = named.find((t) => t.name === 'default') ?? (named.length === 1 ? named[0] : undefined);
    if (pick && typeof pick.template === 'string') return pick.template;
  }
  throw new Error(`${where}: expected a string or a list with a {"name": "default", "template": ...} entry`);
}

export function parseTokenizerConfig(text: string, name: string): TokenizerConfig {
  const json = parseJson(text, name);
  if (!isObject(json)) throw new Error(`${name}: expected a JSON object`);
  return {
    bosToken: tokenName(json.bos_token, `${name} bos_token`),
    eosToken: tokenName(json.eos_token, `${name} eos_token`),
    chatTemplate: chatTemplateOf(json.chat_template, `${name} chat_template`),
  };
}

/** Reads `dir/tokenizer_config.json` if present; `dir/chat_template.jinja` (newer exports) wins. */
export function loadTokenizerConfig(dir: string): TokenizerConfig {
  const path = join(dir, 'tokenizer_config.json');
  const config = existsSync(path) ? parseTokenizerConfig(readFileSync(path, 'utf8'), path) : EMPTY_TOKENIZER_CONFIG;
  const jinja = join(dir, 'chat_template.jinja');
  return existsSync(jinja) ? { ...config, chatTemplate: readFileSync(jinja, 'utf8') } : config;
}
