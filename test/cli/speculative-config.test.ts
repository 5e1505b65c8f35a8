/**
 * `--speculative-config`: generate with ngram and with a draft model (a directory, resolved like
 * --model) gives the plain output; a bad config fails in one line naming the field.
 */
import { describe, expect, it } from 'vitest';
import { fixtureModelDir } from '../helpers/fixtures.js';
import { expectOneLineError, runJson, runMany } from './run-cli.js';

const model = fixtureModelDir('tiny-gpt2-a');
const draft = fixtureModelDir('tiny-gpt2-b');
type Out = { outputs: { tokenIds: number[]; text: string }[] };
const args = ['generate', 'the cat sat on the mat, the cat sat on the', '--model', model, '--max-tokens', '12', '--ignore-eos'];

describe('--speculative-config', () => {
  it('generates the plain greedy output with ngram and with a draft model', async () => {
    const [plain, ngram, drafted] = await Promise.all([
      runJson<Out>(args),
      runJson<Out>([...args, '--speculative-config', '{"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 1}']),
      runJson<Out>([...args, '--speculative-config', JSON.stringify({ method: 'draft_model', model: draft, num_speculative_tokens: 3 })]),
    ]);
    expect(ngram.outputs[0]!.tokenIds).toEqual(plain.outputs[0]!.tokenIds);
    expect(drafted.outputs[0]!.tokenIds).toEqual(plain.outputs[0]!.tokenIds);
  });

  it('rejects a bad config naming the field', async () => {
    const [bad, missing] = await runMany([
      ['generate', 'Hello', '--model', model, '--speculative-config', '{"method": "ngram", "num_speculative_tokens": 0}'],
      ['generate', 'Hello', '--model', model, '--speculative-config', '{"method": "draft_model", "model": "/nonexistent/draft", "num_speculative_tokens": 2}'],
    ]);
    expect(expectOneLineError(bad!)).toMatch(/speculative config num_speculative_tokens: expected an integer >= 1, got 0/);
    expect(expectOneLineError(missing!)).toMatch(/nonexistent\/draft/);
  });
});
