/** `tinyvllm predict`, loaded only when the command runs. */
import { SingleSequence } from '../../model/single-sequence.js';
import type { CommonOpts } from '../options.js';
import { loadWithSpinner } from '../load.js';
import { table } from '../tables.js';
import { fail, pc, printJson, quoted } from '../ui.js';

export interface PredictOpts extends CommonOpts {
  topK: number;
}

/** Indices of the k largest values, largest first (lowest index on ties). */
function topIndices(x: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < x.length; i++) {
    if (idx.length === k && !(x[i] > x[idx[k - 1]])) continue;
    if (idx.length === k) idx.pop();
    // Insert before the first smaller value: equal values keep index order.
    let j = idx.length;
    while (j > 0 && x[idx[j - 1]] < x[i]) j--;
    idx.splice(j, 0, i);
  }
  return idx;
}

const BAR_WIDTH = 24;

export async function predict(text: string, o: PredictOpts): Promise<void> {
  try {
    const { model, tokenizer, backend } = await loadWithSpinner(o);
    const ids = tokenizer.encode(text);
    const ctx = model.config.nPositions;
    if (ids.length === 0) throw new Error('the prompt is empty: give at least one token of text');
    if (ids.length > ctx) throw new Error(`the prompt has ${ids.length} tokens but the model's context length is ${ctx}`);
    const probs = Float32Array.from(new SingleSequence(model, { maxLen: ids.length }).prefill(ids));
    backend.softmax(probs, 1, probs.length);
    const top = topIndices(probs, Math.min(o.topK, probs.length)).map((id, i) => ({
      rank: i + 1,
      id,
      token: tokenizer.idToToken(id),
      text: tokenizer.decode([id]),
      prob: probs[id],
      logprob: Math.log(probs[id]),
    }));
    if (o.json) {
      printJson({ model: o.model, prompt: text, promptTokenIds: ids, topK: top });
      return;
    }
    const bar = (p: number) => pc.green('█'.repeat(Math.max(1, Math.round((p / top[0].prob) * BAR_WIDTH))));
    const rows = top.map((t) => [t.rank, t.id, pc.yellow(t.token), quoted(t.text), `${(t.prob * 100).toFixed(2)}%`, bar(t.prob)]);
    console.log(table(['rank', 'id', 'token', 'text', 'prob', ''], rows, ['right', 'right', 'left', 'left', 'right', 'left']));
    console.log(pc.dim(`after ${ids.length} prompt token${ids.length === 1 ? '' : 's'}: [${ids.join(', ')}]`));
  } catch (err) {
    fail(err, o.json);
  }
}
