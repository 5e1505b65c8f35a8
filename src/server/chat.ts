/**
 * POST /v1/chat/completions: messages rendered through the chat template into one prompt, then the
 * same engine path as completions. Streams as OpenAI does: a first chunk per choice carrying
 * `role: "assistant"`, content deltas, a last chunk with an empty delta and the finish reason.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FinishReason, TokenLogprob, TopLogprob } from '../engine/outputs.js';
import { normalizeMessages, type ChatFormat } from './chat-template.js';
import { usageOf } from './completions.js';
import { badParam, reportInternal, toApiError } from './errors.js';
import { checkInputChars } from './limits.js';
import { checkContextLength, jsonLogprob, startGeneration, type GenerationContext, type TaggedOutput } from './generation.js';
import { parseStop, toSamplingParams, type ChatRequest } from './openai-schema.js';
import { SseWriter } from './sse.js';

interface ChatTopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

interface ChatTokenLogprob extends ChatTopLogprob {
  top_logprobs: ChatTopLogprob[];
}

const top = (t: TopLogprob): ChatTopLogprob => ({
  token: t.token,
  logprob: jsonLogprob(t.logprob),
  bytes: [...Buffer.from(t.token, 'utf8')],
});

function chatLogprobs(entries: readonly TokenLogprob[], k: number): ChatTokenLogprob[] {
  return entries.map((e) => ({ ...top(e), top_logprobs: e.top.slice(0, k).map(top) }));
}

export interface ChatContext extends GenerationContext {
  readonly chatFormat: ChatFormat;
}

/** The prompt token ids for `messages` (also used by /tokenize). */
export function chatPromptIds(ctx: ChatContext, req: Pick<ChatRequest, 'messages' | 'add_generation_prompt'>): number[] {
  const text = ctx.chatFormat.render(normalizeMessages(req.messages), req.add_generation_prompt ?? true);
  checkInputChars(text.length, ctx.limits, 'messages');
  return ctx.engine.encode(text, { addSpecialTokens: ctx.chatFormat.addSpecialTokens });
}

export async function handleChat(
  ctx: ChatContext,
  req: ChatRequest,
  model: string,
  signal: AbortSignal,
  res: () => ServerResponse,
): Promise<object | null> {
  if (req.tools && req.tools.length > 0) throw badParam('tools', "'tools' are not supported by this server.");
  const wantLogprobs = req.logprobs === true;
  const k = req.top_logprobs ?? 0;
  if (req.top_logprobs !== null && req.top_logprobs !== undefined && !wantLogprobs) {
    throw badParam('top_logprobs', "'top_logprobs' requires 'logprobs' to be true.");
  }
  const ids = chatPromptIds(ctx, req);
  const maxTokensField = req.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  const maxTokens = req.max_completion_tokens ?? req.max_tokens ?? null;
  checkContextLength(ids.length, maxTokens, ctx.engine.maxModelLen, 'messages');
  const params = {
    ...toSamplingParams(req, [...ctx.chatFormat.stop, ...parseStop(req.stop)]),
    maxTokens,
    logprobs: wantLogprobs ? k : null,
  };
  const id = `chatcmpl-${randomUUID().replace(/-/g, '')}`;
  const created = Math.floor(Date.now() / 1000);
  let gen: AsyncGenerator<TaggedOutput>;
  try {
    gen = await startGeneration(ctx, [ids], params, id, signal);
  } catch (err) {
    throw toApiError(err, { max_tokens: maxTokensField, logprobs: 'top_logprobs' });
  }
  const n = params.n ?? 1;
  const text = new Map<number, string>();
  const logs = new Map<number, ChatTokenLogprob[]>();
  const reasons = new Map<number, FinishReason>();
  let completionTokens = 0;

  if (!req.stream) {
    for await (const { output } of gen) {
      for (const o of output.outputs) {
        text.set(o.index, (text.get(o.index) ?? '') + o.text);
        if (o.logprobs) logs.set(o.index, [...(logs.get(o.index) ?? []), ...chatLogprobs(o.logprobs, k)]);
        if (o.finishReason) reasons.set(o.index, o.finishReason);
        completionTokens += o.tokenIds.length;
      }
    }
    if (signal.aborted) return null;
    const choices = Array.from({ length: n }, (_, index) => ({
      index,
      message: { role: 'assistant', content: text.get(index) ?? '', refusal: null },
      logprobs: wantLogprobs ? { content: logs.get(index) ?? [], refusal: null } : null,
      finish_reason: reasons.get(index) ?? null,
    }));
    return {
      id, object: 'chat.completion', created, model, system_fingerprint: null,
      choices, usage: usageOf(ids.length, completionTokens),
    };
  }

  const includeUsage = req.stream_options?.include_usage === true;
  const frame = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: null };
  const chunk = (choice: object): object => ({ ...frame, choices: [choice], ...(includeUsage ? { usage: null } : {}) });
  const sse = new SseWriter(res(), ctx.limits.maxStreamBuffer, () => ctx.metrics.countBackpressureAbort());
  sse.start();
  try {
    for (let index = 0; index < n; index++) {
      await sse.send(chunk({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }));
    }
    for await (const { output } of gen) {
      for (const o of output.outputs) {
        completionTokens += o.tokenIds.length;
        if (o.text !== '' || (wantLogprobs && o.logprobs && o.logprobs.length > 0)) {
          const logprobs = wantLogprobs ? { content: chatLogprobs(o.logprobs ?? [], k), refusal: null } : null;
          await sse.send(chunk({ index: o.index, delta: { content: o.text }, logprobs, finish_reason: null }));
        }
        if (o.finishReason) {
          await sse.send(chunk({ index: o.index, delta: {}, logprobs: null, finish_reason: o.finishReason }));
        }
      }
    }
    if (includeUsage && !signal.aborted) {
      await sse.send({ ...frame, choices: [], usage: usageOf(ids.length, completionTokens) });
    }
  } catch (err) {
    reportInternal(err, 'stream of /v1/chat/completions');
    await sse.send(toApiError(err).toBody());
  }
  await sse.done();
  return null;
}
