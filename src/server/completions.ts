/**
 * POST /v1/completions. Each prompt becomes one engine request with `n` samples; choice `k` of prompt
 * `p` gets index `p * n + k`, as in OpenAI's API. Logprobs use the legacy completions shape, with
 * `text_offset` counted in characters of the choice's `text` (which starts with the prompt when
 * `echo` is set).
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { EngineClient } from '../engine/engine-client.js';
import type { FinishReason, RequestOutput, TokenLogprob } from '../engine/outputs.js';
import { badParam, reportInternal, toApiError } from './errors.js';
import { checkInputChars, checkPromptCount, DEFAULT_LIMITS, type ServerLimits } from './limits.js';
import { checkContextLength, jsonLogprob, startGeneration, type GenerationContext } from './generation.js';
import { parseStop, toSamplingParams, type CompletionRequest } from './openai-schema.js';
import { SseWriter } from './sse.js';

/** OpenAI's default for `max_tokens` on this endpoint. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export const usageOf = (prompt: number, completion: number): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
});

/** A prompt as given (text, when there was text) and as token ids. */
export interface ParsedPrompt {
  readonly text: string | null;
  readonly ids: number[];
}

function checkTokenIds(ids: readonly unknown[], vocabSize: number, param: string): number[] {
  for (const id of ids) {
    // Never stringify a non-number: a deeply nested array would overflow the stack.
    if (typeof id !== 'number') {
      throw badParam(param, `Invalid value for '${param}': expected token ids (integers), got ${Array.isArray(id) ? 'an array' : typeof id}.`);
    }
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw badParam(param, `Invalid value for '${param}': token id ${id} is not in the vocabulary (0..${vocabSize - 1}).`);
    }
  }
  return ids as number[];
}

/** `prompt`: a string, an array of strings, an array of token ids, or an array of such arrays. */
export function parsePrompts(prompt: unknown, engine: EngineClient, limits: ServerLimits = DEFAULT_LIMITS): ParsedPrompt[] {
  const vocab = engine.modelConfig.vocabSize;
  // Limits first, before any tokenising: the count of prompts, then the characters of text.
  // (A flat array of numbers is one prompt of token ids.)
  if (Array.isArray(prompt) && !prompt.every((p) => typeof p === 'number')) checkPromptCount(prompt.length, limits);
  const texts = typeof prompt === 'string' ? [prompt] : Array.isArray(prompt) ? prompt.filter((p) => typeof p === 'string') : [];
  checkInputChars(texts.reduce((sum: number, t: string) => sum + t.length, 0), limits, 'prompt');
  const fromText = (text: string): ParsedPrompt => ({ text, ids: engine.encode(text) });
  let prompts: ParsedPrompt[];
  if (typeof prompt === 'string') prompts = [fromText(prompt)];
  else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === 'string')) {
    prompts = (prompt as string[]).map(fromText);
  } else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === 'number')) {
    prompts = [{ text: null, ids: checkTokenIds(prompt, vocab, 'prompt') }];
  } else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => Array.isArray(p))) {
    prompts = (prompt as unknown[][]).map((ids, i) => ({ text: null, ids: checkTokenIds(ids, vocab, `prompt[${i}]`) }));
  } else {
    throw badParam('prompt', "Invalid value for 'prompt': must be a string, an array of strings, an array of token ids, or an array of token-id arrays.");
  }
  prompts.forEach((p, i) => {
    if (p.ids.length === 0) throw badParam(prompts.length > 1 ? `prompt[${i}]` : 'prompt', 'The prompt is empty.');
  });
  return prompts;
}

/** Logprob entries → the completions shape, continuing at text offset `offset`. */
function appendLogprobs(
  acc: CompletionLogprobs,
  entries: readonly (TokenLogprob | null)[],
  ids: readonly number[],
  engine: EngineClient,
  offset: number,
): number {
  entries.forEach((e, i) => {
    const token = e ? e.token : engine.decode([ids[i]!]);
    acc.tokens.push(token);
    acc.token_logprobs.push(e ? jsonLogprob(e.logprob) : null);
    // As vLLM: the top candidates plus the chosen token.
    acc.top_logprobs.push(e ? Object.fromEntries([...e.top, e].map((t) => [t.token, jsonLogprob(t.logprob)])) : null);
    acc.text_offset.push(offset);
    offset += token.length;
  });
  return offset;
}

const emptyLogprobs = (): CompletionLogprobs => ({ tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] });

/** Streaming state of one choice. */
interface ChoiceState {
  started: boolean;
  offset: number;
  tokens: number;
  text: string;
  logprobs: CompletionLogprobs | null;
  finishReason: FinishReason | null;
}

/** Turns an engine delta into per-choice increments; shared by the streaming and full responses. */
function* choiceDeltas(
  out: RequestOutput,
  prompt: ParsedPrompt,
  base: number,
  states: Map<number, ChoiceState>,
  req: CompletionRequest,
  engine: EngineClient,
): Generator<{ index: number; text: string; logprobs: CompletionLogprobs | null; finish: FinishReason | null }> {
  for (const o of out.outputs) {
    const index = base + o.index;
    let st = states.get(index);
    if (!st) {
      st = { started: false, offset: 0, tokens: 0, text: '', logprobs: null, finishReason: null };
      states.set(index, st);
    }
    let text = o.text;
    const lp = req.logprobs !== null && req.logprobs !== undefined ? emptyLogprobs() : null;
    if (!st.started && req.echo) {
      // The prompt comes first in the choice's text, and its logprobs first in the list.
      const promptText = prompt.text ?? engine.decode(prompt.ids);
      if (lp && out.promptLogprobs) st.offset = appendLogprobs(lp, out.promptLogprobs, prompt.ids, engine, st.offset);
      else st.offset += promptText.length;
      text = promptText + text;
    }
    st.started = true;
    if (lp && o.logprobs) st.offset = appendLogprobs(lp, o.logprobs, o.tokenIds, engine, st.offset);
    st.tokens += o.tokenIds.length;
    st.text += text;
    st.finishReason = o.finishReason ?? st.finishReason;
    yield { index, text, logprobs: lp, finish: o.finishReason };
  }
}

function mergeLogprobs(into: CompletionLogprobs | null, add: CompletionLogprobs | null): CompletionLogprobs | null {
  if (!add) return into;
  const acc = into ?? emptyLogprobs();
  acc.tokens.push(...add.tokens);
  acc.token_logprobs.push(...add.token_logprobs);
  acc.top_logprobs.push(...add.top_logprobs);
  acc.text_offset.push(...add.text_offset);
  return acc;
}

export async function handleCompletion(
  ctx: GenerationContext,
  req: CompletionRequest,
  model: string,
  signal: AbortSignal,
  res: () => ServerResponse,
): Promise<object | null> {
  if (req.suffix) throw badParam('suffix', "'suffix' is not supported by this server.");
  const n = req.n ?? 1;
  if (req.best_of !== null && req.best_of !== undefined && req.best_of !== n) {
    throw badParam('best_of', "'best_of' is not supported; it must equal 'n' when given.");
  }
  const prompts = parsePrompts(req.prompt, ctx.engine, ctx.limits);
  const maxTokens = req.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS;
  for (const p of prompts) checkContextLength(p.ids.length, maxTokens, ctx.engine.maxModelLen, 'prompt');
  const logprobs = req.logprobs ?? null;
  const params = {
    ...toSamplingParams(req, parseStop(req.stop)),
    maxTokens,
    logprobs,
    promptLogprobs: req.echo && logprobs !== null ? logprobs : null,
  };
  const id = `cmpl-${randomUUID().replace(/-/g, '')}`;
  const created = Math.floor(Date.now() / 1000);
  const gen = await startGeneration(ctx, prompts.map((p) => p.ids), params, id, signal);
  const promptTokens = prompts.reduce((s, p) => s + p.ids.length, 0);
  const states = new Map<number, ChoiceState>();
  const frame = { id, object: 'text_completion', created, model, system_fingerprint: null };

  if (!req.stream) {
    const logs = new Map<number, CompletionLogprobs | null>();
    for await (const { promptIndex, output } of gen) {
      for (const d of choiceDeltas(output, prompts[promptIndex]!, promptIndex * n, states, req, ctx.engine)) {
        logs.set(d.index, mergeLogprobs(logs.get(d.index) ?? null, d.logprobs));
      }
    }
    if (signal.aborted) return null;
    const choices = [...states.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, st]) => ({
        index,
        text: st.text,
        logprobs: logprobs === null ? null : (logs.get(index) ?? emptyLogprobs()),
        finish_reason: st.finishReason,
      }));
    const completionTokens = [...states.values()].reduce((s, st) => s + st.tokens, 0);
    return { ...frame, choices, usage: usageOf(promptTokens, completionTokens) };
  }

  const includeUsage = req.stream_options?.include_usage === true;
  const sse = new SseWriter(res(), ctx.limits.maxStreamBuffer, () => ctx.metrics.countBackpressureAbort());
  sse.start();
  try {
    for await (const { promptIndex, output } of gen) {
      for (const d of choiceDeltas(output, prompts[promptIndex]!, promptIndex * n, states, req, ctx.engine)) {
        if (d.text === '' && d.finish === null && !d.logprobs?.tokens.length) continue;
        const choice = { index: d.index, text: d.text, logprobs: d.logprobs, finish_reason: d.finish };
        await sse.send({ ...frame, choices: [choice], ...(includeUsage ? { usage: null } : {}) });
      }
    }
    if (includeUsage && !signal.aborted) {
      const completionTokens = [...states.values()].reduce((s, st) => s + st.tokens, 0);
      await sse.send({ ...frame, choices: [], usage: usageOf(promptTokens, completionTokens) });
    }
  } catch (err) {
    reportInternal(err, 'stream of /v1/completions');
    await sse.send(toApiError(err).toBody());
  }
  await sse.done();
  return null;
}
