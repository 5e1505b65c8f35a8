import { getEncoding } from 'js-tiktoken';
import { describe, expect, it } from 'vitest';
import type { TokenLogprob } from '../../src/engine/outputs.js';
import { SamplingParams, type SamplingParamsInit } from '../../src/engine/sampling-params.js';
import { SequenceOutput } from '../../src/engine/sequence-output.js';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';

// The tokenizer under its real GPT-2 vocabulary; js-tiktoken is the independent oracle for ids and text.
const tok = GPT2Tokenizer.fromDir('test/fixtures/gpt2-tokenizer');
const enc = getEncoding('gpt2');
const EOS = 50256;
const encode = (s: string): number[] => enc.encode(s, 'all');

interface Run {
  out: SequenceOutput;
  deltas: string[];
  steps: number;
}

/** Feeds `ids` until the sequence finishes, checking the streaming invariants on the way. */
function run(ids: number[], init: SamplingParamsInit, maxTokens = ids.length, logprobs?: (TokenLogprob | null)[]): Run {
  const out = new SequenceOutput(SamplingParams.create(init), tok, { maxTokens, eosTokenId: EOS });
  const deltas: string[] = [];
  let steps = 0;
  for (const [i, id] of ids.entries()) {
    const r = out.append(id, logprobs?.[i] ?? null);
    steps++;
    deltas.push(r.text);
    expect(out.text).toBe(deltas.join(''));
    expect(r.finishReason).toBe(out.finishReason);
    expect(r.stopReason).toBe(out.stopReason);
    if (r.finishReason !== null) break;
  }
  expect(out.finishReason, 'the run should finish').not.toBeNull();
  expect(out.tokenIds).toEqual(ids.slice(0, steps));
  return { out, deltas, steps };
}

describe('SequenceOutput without stop strings', () => {
  it('streams the exact decoded text and finishes with "length" at max_tokens', () => {
    const text = ' Hello world, this is a test of streaming with 🍕 and 東京 in it.';
    const ids = encode(text);
    const { out, deltas } = run(ids, {});
    expect(out.text).toBe(enc.decode(ids));
    expect(out.text).toBe(text);
    expect(out.finishReason).toBe('length');
    expect(out.stopReason).toBeNull();
    // Partial UTF-8 is held back, never streamed as U+FFFD.
    for (const d of deltas) expect(d).not.toContain('\uFFFD');
  });

  it('stops at a smaller max_tokens', () => {
    const ids = encode(' one two three four five');
    const { out, steps } = run(ids, {}, 3);
    expect(steps).toBe(3);
    expect(out.text).toBe(enc.decode(ids.slice(0, 3)));
    expect(out.finishReason).toBe('length');
  });

  it('EOS finishes with "stop", stop reason null, and its text left out', () => {
    const ids = [...encode('The quick'), EOS, ...encode(' brown')];
    const { out, steps } = run(ids, { skipSpecialTokens: false });
    expect(steps).toBe(3);
    expect(out.text).toBe('The quick');
    expect([out.finishReason, out.stopReason]).toEqual(['stop', null]);
    expect(out.tokenIds.at(-1)).toBe(EOS);
    // Like vLLM, include_stop_str_in_output keeps the EOS token's own text.
    expect(run(ids, { skipSpecialTokens: false, includeStopStrInOutput: true }).out.text).toBe('The quick<|endoftext|>');
  });

  it('ignore_eos decodes EOS like any token and keeps going', () => {
    const ids = [...encode('The quick'), EOS, ...encode(' brown')];
    expect(run(ids, { ignoreEos: true, skipSpecialTokens: false }).out.text).toBe(enc.decode(ids));
    const skipped = run(ids, { ignoreEos: true });
    expect(skipped.out.text).toBe('The quick brown');
    expect(skipped.out.finishReason).toBe('length');
  });

  it('stop_token_ids finish with the id as stop reason, and its text left out', () => {
    const ids = encode(' alpha beta gamma delta');
    const { out, steps } = run(ids, { stopTokenIds: [ids[2]!] });
    expect(steps).toBe(3);
    expect(out.text).toBe(enc.decode(ids.slice(0, 2)));
    expect([out.finishReason, out.stopReason]).toEqual(['stop', ids[2]]);
  });

  it('a stop token on the very first token gives empty text', () => {
    const ids = encode(' Hello world');
    const { out, deltas } = run(ids, { stopTokenIds: [ids[0]!] });
    expect(deltas).toEqual(['']);
    expect([out.text, out.stopReason]).toEqual(['', ids[0]]);
  });

  it('a stop on the last allowed token is "stop", not "length"', () => {
    const ids = encode(' one two three');
    const { out } = run(ids, { stopTokenIds: [ids[2]!] }, 3);
    expect(out.finishReason).toBe('stop');
  });
});

describe('SequenceOutput stop strings', () => {
  const text = ' Hello world, this is a test.';
  const ids = encode(text);

  it('match across token boundaries and truncate before the stop string', () => {
    const { out, deltas, steps } = run(ids, { stop: ['o wor'] });
    expect(steps).toBe(2); // " Hello" + " world" completes "o wor"
    expect(out.text).toBe(text.slice(0, text.indexOf('o wor')));
    expect([out.finishReason, out.stopReason]).toEqual(['stop', 'o wor']);
    // The trailing "o" of " Hello" could start the stop string, so it was held back, never emitted.
    expect(deltas[0]).toBe(' Hell');
  });

  it('include_stop_str_in_output keeps the stop string', () => {
    const { out } = run(ids, { stop: ['o wor'], includeStopStrInOutput: true });
    expect(out.text).toBe(text.slice(0, text.indexOf('o wor') + 'o wor'.length));
  });

  it('held-back text is released once it can no longer start a stop string', () => {
    const { out, deltas } = run(ids, { stop: ['o there'] });
    expect(deltas[0]).toBe(' Hell');
    expect(deltas[1]).toBe('o world');
    expect(out.text).toBe(text);
    expect(out.finishReason).toBe('length');
  });

  it('a stop string on the very first token gives empty text', () => {
    const { out, steps } = run(ids, { stop: [' Hello'] });
    expect([steps, out.text, out.stopReason]).toEqual([1, '', ' Hello']);
  });

  it('the earliest match wins over the order of the list', () => {
    const { out } = run(ids, { stop: ['world', 'lo w'] });
    expect(out.text).toBe(' Hel');
    expect(out.stopReason).toBe('lo w');
  });

  it('work inside multi-byte characters split over tokens', () => {
    const s = 'I like 🍕 pizza';
    const { out, deltas } = run(encode(s), { stop: ['🍕'] });
    expect(out.text).toBe('I like ');
    expect(deltas.join('')).not.toContain('\uFFFD');
    expect(run(encode(s), { stop: ['🍕 p'], includeStopStrInOutput: true }).out.text).toBe('I like 🍕 p');
  });

  it('min_tokens suppresses every stop condition until reached', () => {
    // " world" completes at token 2; with min_tokens 3 it is ignored, and there is no later match.
    expect(run(ids, { stop: [' world'], minTokens: 3 }).out.finishReason).toBe('length');
    expect(run(ids, { stop: [' world'], minTokens: 2 }).out.text).toBe(' Hello');
    const withEos = [ids[0]!, EOS, ...ids.slice(1)];
    const early = run(withEos, { minTokens: 3 });
    expect(early.out.text).toBe(text);
    expect(early.out.finishReason).toBe('length');
    // A stop token id as token 1 is ignored; as token 3 it stops.
    expect(run(withEos, { minTokens: 3, stopTokenIds: [ids[0]!] }).out.finishReason).toBe('length');
    const third = run(withEos, { minTokens: 3, stopTokenIds: [ids[1]!] });
    expect([third.steps, third.out.text, third.out.stopReason]).toEqual([3, ' Hello', ids[1]]);
  });

  it('match the oracle on random ASCII texts and stops (deltas always concatenate to the text)', () => {
    const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', ',', '.', 'and', 'then', '\n', 'ran', 'away', 'fast', '!', 'hello', 'world'];
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let trial = 0; trial < 300; trial++) {
      const sentence = Array.from({ length: 5 + rand(20) }, () => (rand(3) ? ' ' : '') + words[rand(words.length)]).join('');
      const tokens = encode(sentence);
      const full = enc.decode(tokens);
      const stops = Array.from({ length: 1 + rand(3) }, () => {
        if (rand(4) === 0) return 'zzq'; // never present
        const at = rand(full.length);
        return full.slice(at, at + 1 + rand(8));
      });
      const include = rand(2) === 1;
      // Oracle: the first prefix of tokens whose decoded text contains a stop string, cut at the
      // earliest-starting one.
      let want: { steps: number; text: string; stop: string | null } = { steps: tokens.length, text: full, stop: null };
      for (let t = 1; t <= tokens.length && want.stop === null; t++) {
        const dec = enc.decode(tokens.slice(0, t));
        let best = -1;
        let which = '';
        for (const s of stops) {
          const at = dec.indexOf(s);
          if (at >= 0 && (best < 0 || at < best)) [best, which] = [at, s];
        }
        if (best >= 0) want = { steps: t, text: dec.slice(0, best + (include ? which.length : 0)), stop: which };
      }
      const { out, steps } = run(tokens, { stop: stops, includeStopStrInOutput: include });
      expect({ steps, text: out.text, stop: out.stopReason }, JSON.stringify({ sentence, stops })).toEqual(want);
      expect(out.finishReason).toBe(want.stop === null ? 'length' : 'stop');
    }
  });
});

describe('SequenceOutput logprobs', () => {
  const lp = (tokenId: number, logprob: number): TokenLogprob => ({ tokenId, token: '', logprob, rank: 1, top: [] });

  it('accumulates logprobs when asked for, and is null otherwise', () => {
    const ids = encode(' a b c');
    const given = [lp(ids[0]!, -0.5), lp(ids[1]!, -1.25), lp(ids[2]!, -2)];
    const { out } = run(ids, { logprobs: 0 }, ids.length, given);
    expect(out.logprobs).toEqual(given);
    expect(out.cumulativeLogprob).toBeCloseTo(-3.75, 12);
    const plain = run(ids, {});
    expect(plain.out.logprobs).toBeNull();
    expect(plain.out.cumulativeLogprob).toBeNull();
  });

  it('rejects misuse: missing logprobs, appends after finishing, bad max_tokens', () => {
    const p = SamplingParams.create({ logprobs: 1 });
    expect(() => new SequenceOutput(p, tok, { maxTokens: 4, eosTokenId: EOS }).append(5, null)).toThrow(/logprobs/);
    const out = new SequenceOutput(SamplingParams.create(), tok, { maxTokens: 1, eosTokenId: EOS });
    expect(out.append(5, null).finishReason).toBe('length');
    expect(() => out.append(6, null)).toThrow(/already finished/);
    expect(() => new SequenceOutput(p, tok, { maxTokens: 0, eosTokenId: EOS })).toThrow(/maxTokens/);
  });

  it('abort marks the sequence finished', () => {
    const out = new SequenceOutput(SamplingParams.create(), tok, { maxTokens: 5, eosTokenId: EOS });
    out.append(5, null);
    out.abort();
    expect(out.finishReason).toBe('abort');
  });
});
