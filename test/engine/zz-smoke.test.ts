import { it, expect } from 'vitest';
import { LLM } from '../../src/engine/llm.js';
import { fixtureModelDir } from '../../test/helpers/fixtures.js';
it('smoke', async () => {
  const t0 = performance.now();
  const llm = await LLM.create({ model: fixtureModelDir('tiny-gpt2-a'), backend: 'reference' });
  console.log('load', performance.now() - t0, llm.config);
  const t1 = performance.now();
  const outs = await llm.generate(['Hello world', 'The quick brown fox jumps'], { temperature: 0, maxTokens: 20 }, { progress: false });
  console.log('gen', performance.now() - t1, JSON.stringify(outs.map(o => [o.outputs[0]!.text, o.outputs[0]!.tokenIds, o.outputs[0]!.finishReason])));
  console.log(llm.stats());
  expect(outs).toHaveLength(2);
  llm.close();
});
