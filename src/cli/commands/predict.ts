import type { Command } from 'commander';
import { SingleSequence } from '../../model/single-sequence.js';
import { addCommonOptions, int, type CommonOpts } from '../options.js';
import { loadWithSpinner } from '../load.js';
import { fail, pc, printJson, table, visible } from '../ui.js';

interface PredictOpts extends CommonOpts {
  topK: number;
}

/** Indices of the k largest values, largest first (lowest index on ties). */
export function topIndices(x: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < x.length; i++) {
    if (idx.length < k) {
      idx.push(i);
      idx.sort((a, b) => x[b] - x[a] || a - b);
    } else if (x[i] > x[idx[k - 1]]) {
      idx[k - 1] = i;
      idx.sort((a, b) => x[b] - x[a] || a - b);
    }
  }
  return idx;
}

export function registerPredict(program: Command): void {
  addCommonOptions(program.command('predict').description('show the next-token probability table').argument('<text>', 'prompt'))
    .option('-k, --top-k <k>', 'how many candidates to show', int('--top-k', 1), 10)
    .action(async (text: string, o: PredictOpts) => {
      try {
        const { model, tokenizer, backend } = await loadWithSpinner(o);
        const ids = tokenizer.encode(text);
        if (ids.length === 0) throw new Error('the prompt is empty: give at least one token of text');
        if (ids.length > model.config.nPositions) throw new Error(`the prompt has ${ids.length} tokens but the model's context is ${model.config.nPositions}`);
        const runner = new SingleSequence(model);
        const probs = Float32Array.from(runner.prefill(ids));
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
        const width = 24;
        console.log(
          table(
            ['rank', 'id', 'token', 'text', 'probability', ''],
            top.map((t) => [t.rank, t.id, pc.yellow(t.token), visible(t.text), `${(t.prob * 100).toFixed(2)}%`, pc.green('█'.repeat(Math.max(1, Math.round((t.prob / top[0].prob) * width))))]),
            ['right', 'right', 'left', 'left', 'right', 'left'],
          ),
        );
        console.log(pc.dim(`${ids.length} prompt tokens: [${ids.join(', ')}]`));
      } catch (err) {
        fail(err, o.json);
      }
    });
}
