/**
 * What speculative verification's exactness rests on: the logits of a position computed as one row
 * of a multi-row chunk (the last token plus drafts) are bit-identical to those of a one-row decode
 * step at that position, on both backends and for every KV cache precision.
 */
import { describe, expect, it } from 'vitest';
import type { KVCacheDType } from '../../../src/kernels/backend.js';
import { nativeAvailable } from '../../../src/kernels/native.js';
import { loadModel } from '../../../src/model/load.js';
import { SingleSequence } from '../../../src/model/single-sequence.js';
import { fixtureModelDir } from '../../helpers/fixtures.js';
import { randomPrompts } from '../../helpers/engine.js';

const [PROMPT, DRAFTS] = randomPrompts([37, 6], 8);

function bits(x: Float32Array): Uint32Array {
  return new Uint32Array(x.slice().buffer);
}

describe.each([
  ['reference', 'f32'],
  ...(nativeAvailable() ? ([['native', 'f32'], ['native', 'bf16'], ['native', 'f16']] as const) : []),
] as const)('%s backend, %s KV cache', (backend, kvCacheDtype) => {
  it('a chunk row equals the decode row at the same position, bit for bit', async () => {
    const { model } = await loadModel(fixtureModelDir('tiny-gpt2-b'), { backend, threads: 2 });
    try {
      const dt = kvCacheDtype as KVCacheDType;
      const decode = new SingleSequence(model, { kvCacheDtype: dt });
      const want = [bits(decode.prefill(PROMPT!))];
      for (const d of DRAFTS!) want.push(bits(decode.step(d)));
      for (let j = 0; j <= DRAFTS!.length; j++) {
        // The prefix computed earlier, then last token + j drafts in one pass: its last row.
        const chunk = new SingleSequence(model, { kvCacheDtype: dt });
        chunk.prefill(PROMPT!.slice(0, -1));
        expect(bits(chunk.prefill([PROMPT!.at(-1)!, ...DRAFTS!.slice(0, j)]))).toEqual(want[j]);
      }
    } finally {
      model.backend.dispose();
    }
  });
});
