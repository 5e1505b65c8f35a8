/** Folds streamed deltas into a cumulative `RequestOutput` (what non-streaming callers return). */
import type { CompletionOutput, RequestOutput } from './outputs.js';

function mergeCompletion(prev: CompletionOutput | undefined, d: CompletionOutput): CompletionOutput {
  if (!prev) return d;
  return {
    index: d.index,
    text: prev.text + d.text,
    tokenIds: [...prev.tokenIds, ...d.tokenIds],
    logprobs: prev.logprobs === null || d.logprobs === null ? (prev.logprobs ?? d.logprobs) : [...prev.logprobs, ...d.logprobs],
    cumulativeLogprob: d.cumulativeLogprob,
    finishReason: d.finishReason ?? prev.finishReason,
    stopReason: d.stopReason ?? prev.stopReason,
  };
}

export function mergeOutput(prev: RequestOutput | null, d: RequestOutput): RequestOutput {
  if (!prev) return { ...d, outputs: [...d.outputs].sort((a, b) => a.index - b.index) };
  const byIndex = new Map(prev.outputs.map((o) => [o.index, o]));
  for (const o of d.outputs) byIndex.set(o.index, mergeCompletion(byIndex.get(o.index), o));
  return {
    ...d,
    promptLogprobs: prev.promptLogprobs ?? d.promptLogprobs,
    outputs: [...byIndex.values()].sort((a, b) => a.index - b.index),
  };
}
