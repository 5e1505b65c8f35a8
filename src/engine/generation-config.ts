/**
 * `generation_config.json`: the model author's generation settings. As in vLLM, every id in its
 * `eos_token_id` (one id or a list, e.g. Llama 3.1's end_of_text/eom/eot) ends a sequence, and its
 * sampling values are the server's defaults for fields a request leaves unset.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SamplingParamsInit } from './sampling-params.js';

/** The sampling fields a generation config may set (vLLM's `get_diff_sampling_param`). */
export type GenerationDefaults = Pick<SamplingParamsInit, 'temperature' | 'topP' | 'topK' | 'minP' | 'repetitionPenalty' | 'maxTokens'>;

export interface GenerationConfig {
  /** Ids that end generation besides the tokenizer's EOS (vLLM adds them to the stop token ids). */
  readonly eosTokenIds: readonly number[];
  readonly defaults: Readonly<GenerationDefaults>;
}

export const EMPTY_GENERATION_CONFIG: GenerationConfig = { eosTokenIds: [], defaults: {} };

const FIELDS: readonly [json: string, key: keyof GenerationDefaults][] = [
  ['temperature', 'temperature'], ['top_p', 'topP'], ['top_k', 'topK'], ['min_p', 'minP'],
  ['repetition_penalty', 'repetitionPenalty'], ['max_new_tokens', 'maxTokens'],
];

export function parseGenerationConfig(text: string, name: string): GenerationConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name}: malformed JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${name}: expected a JSON object`);
  const obj = json as Record<string, unknown>;
  const eos = obj.eos_token_id ?? [];
  const eosList = Array.isArray(eos) ? eos : [eos];
  if (!eosList.every((id) => Number.isSafeInteger(id) && (id as number) >= 0)) {
    throw new Error(`${name}: eos_token_id must be a token id or a list of token ids, got ${JSON.stringify(eos)}`);
  }
  const defaults: GenerationDefaults = {};
  for (const [field, key] of FIELDS) {
    const v = obj[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${name}: ${field} must be a number, got ${JSON.stringify(v)}`);
    defaults[key] = v;
  }
  return { eosTokenIds: eosList as number[], defaults };
}

/** Reads `dir/generation_config.json`; none means no extra EOS ids and no defaults. */
export function loadGenerationConfig(dir: string): GenerationConfig {
  const path = join(dir, 'generation_config.json');
  return existsSync(path) ? parseGenerationConfig(readFileSync(path, 'utf8'), path) : EMPTY_GENERATION_CONFIG;
}

/** Adds the config's EOS ids to `stopTokenIds` (unless `ignoreEos`), as vLLM does for every request. */
export function withEosTokenIds(init: SamplingParamsInit, config: GenerationConfig): SamplingParamsInit {
  if (config.eosTokenIds.length === 0 || init.ignoreEos === true) return init;
  const ids = new Set([...(init.stopTokenIds ?? []), ...config.eosTokenIds]);
  return { ...init, stopTokenIds: [...ids] };
}

/** Fills the fields `init` leaves unset (undefined or null) from the config's sampling defaults. */
export function withGenerationDefaults(init: SamplingParamsInit, config: GenerationConfig): SamplingParamsInit {
  const out: SamplingParamsInit = { ...init };
  for (const [, key] of FIELDS) {
    const v = config.defaults[key];
    if (v !== undefined && (out[key] === undefined || out[key] === null)) Object.assign(out, { [key]: v });
  }
  return out;
}
