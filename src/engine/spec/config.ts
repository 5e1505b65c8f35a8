/**
 * `--speculative-config` / `LLM.create({ speculativeConfig })`: vLLM's JSON, validated with errors
 * that name the field. Two methods: `ngram` (prompt lookup, no model) and `draft_model` (a smaller
 * model with the same vocabulary, given as a directory or hub name like `--model`).
 */

export const SPEC_METHODS = ['ngram', 'draft_model'] as const;
export type SpecMethod = (typeof SPEC_METHODS)[number];

/** The JSON as given (snake_case, as vLLM's `--speculative-config`). */
export interface SpeculativeConfigInit {
  method?: SpecMethod;
  num_speculative_tokens?: number;
  prompt_lookup_max?: number;
  prompt_lookup_min?: number;
  /** draft_model: the draft checkpoint directory or hub name. */
  model?: string;
  /**
   * Speculation steps back for a step when (decoding sequences) × (1 + num_speculative_tokens)
   * exceeds this many rows: the step is then compute-bound and the extra rows cost real time.
   */
  max_verify_tokens?: number;
}

export interface SpeculativeConfig {
  readonly method: SpecMethod;
  readonly numSpeculativeTokens: number;
  readonly promptLookupMax: number;
  readonly promptLookupMin: number;
  readonly model: string | null;
  readonly maxVerifyTokens: number;
}

/** Default step-back threshold in rows (see docs/architecture.md, "Speculative decoding"). */
export const DEFAULT_MAX_VERIFY_TOKENS = 16;

const KEYS = ['method', 'num_speculative_tokens', 'prompt_lookup_max', 'prompt_lookup_min', 'model', 'max_verify_tokens'];

function int(name: string, v: unknown, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new Error(`speculative config ${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Parses a JSON string or an object; `undefined` / `null` mean no speculation. */
export function parseSpeculativeConfig(input: string | SpeculativeConfigInit | null | undefined): SpeculativeConfig | null {
  if (input === undefined || input === null) return null;
  let o: unknown = input;
  if (typeof input === 'string') {
    try {
      o = JSON.parse(input);
    } catch (e) {
      throw new Error(`speculative config: not valid JSON (${(e as Error).message}): ${input}`);
    }
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error(`speculative config: expected a JSON object, got ${JSON.stringify(o)}`);
  const c = o as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    if (!KEYS.includes(k)) throw new Error(`speculative config: unknown field '${k}' (known: ${KEYS.join(', ')})`);
  }
  // vLLM infers the method from the fields when it is left out.
  const method = c.method ?? (c.model !== undefined ? 'draft_model' : 'ngram');
  if (!SPEC_METHODS.includes(method as SpecMethod)) {
    throw new Error(`speculative config method: expected one of ${SPEC_METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  }
  if (c.num_speculative_tokens === undefined) throw new Error('speculative config num_speculative_tokens: required (e.g. 4)');
  const k = int('num_speculative_tokens', c.num_speculative_tokens, 0, 1);
  if (k > 16) throw new Error(`speculative config num_speculative_tokens: at most 16, got ${k}`);
  let model: string | null = null;
  if (method === 'draft_model') {
    if (typeof c.model !== 'string' || c.model.length === 0) throw new Error('speculative config model: draft_model needs the draft checkpoint directory or hub name');
    model = c.model;
  } else if (c.model !== undefined) {
    throw new Error(`speculative config model: only draft_model takes a model, not ${String(method)}`);
  }
  const lookupMax = int('prompt_lookup_max', c.prompt_lookup_max, Math.max(int('prompt_lookup_min', c.prompt_lookup_min, 1, 1), 4), 1);
  const lookupMin = int('prompt_lookup_min', c.prompt_lookup_min, Math.min(2, lookupMax), 1);
  if (lookupMin > lookupMax) throw new Error(`speculative config: prompt_lookup_min (${lookupMin}) exceeds prompt_lookup_max (${lookupMax})`);
  return {
    method: method as SpecMethod,
    numSpeculativeTokens: k,
    promptLookupMax: lookupMax,
    promptLookupMin: lookupMin,
    model,
    maxVerifyTokens: int('max_verify_tokens', c.max_verify_tokens, DEFAULT_MAX_VERIFY_TOKENS, 1),
  };
}
