/**
 * A stand-in EngineClient used while the real engine is not available: GPT-2 tokenisation from
 * js-tiktoken, deterministic "next token = f(previous token, step, seed)" generation, stop strings,
 * and a per-step delay so aborts can be observed.
 */
import { getEncoding } from 'js-tiktoken';
import type { EngineClient, PromptInput } from '../../src/engine/engine-client.js';
import type { EngineStats, RequestOutput, TokenLogprob } from '../../src/engine/outputs.js';
import { SamplingParams, type SamplingParamsInit } from '../../src/engine/sampling-params.js';
import type { GPT2Config } from '../../src/model/config.js';

const enc = getEncoding('gpt2');

export class FakeEngine implements EngineClient {
  readonly modelConfig: GPT2Config = {
    modelType: 'gpt2', vocabSize: 50257, nPositions: 128, nEmbd: 32, nLayer: 2, nHead: 2, nInner: 128,
    layerNormEpsilon: 1e-5, activation: 'gelu_new', bosTokenId: 50256, eosTokenId: 50256, torchDtype: null,
  };
  readonly maxModelLen = 128;
  private readonly aborted = new Set<string>();
  running = 0;
  promptTokens = 0;
  generationTokens = 0;

  constructor(private readonly stepMs = 1) {}

  encode(text: string): number[] {
    return enc.encode(text, 'all');
  }

  decode(ids: readonly number[]): string {
    return enc.decode([...ids]);
  }

  static next(prev: number, step: number, seed: number): number {
    return (prev * 7 + 13 + step * 101 + seed * 977) % 50000;
  }

  async *generate(prompt: PromptInput, init: SamplingParamsInit, requestId: string): AsyncGenerator<RequestOutput> {
    const p = SamplingParams.create(init, { vocabSize: 50257 });
    const ids = typeof prompt === 'string' ? this.encode(prompt) : [...prompt.promptTokenIds];
    const max = p.maxTokens ?? this.maxModelLen - ids.length;
    const seed = p.temperature === 0 ? 0 : (p.seed ?? Math.floor(Math.random() * 1000));
    this.running++;
    this.promptTokens += ids.length;
    const out = Array.from({ length: p.n }, () => ({ ids: [] as number[], text: '', done: false }));
    try {
      for (let step = 0; step < max; step++) {
        await new Promise((r) => setTimeout(r, this.stepMs));
        if (this.aborted.has(requestId)) return;
        const outputs = [];
        for (let k = 0; k < p.n; k++) {
          const o = out[k]!;
          if (o.done) continue;
          const tok = FakeEngine.next(o.ids.at(-1) ?? ids.at(-1)!, step, seed + (p.temperature === 0 ? 0 : k));
          o.ids.push(tok);
          this.generationTokens++;
          const full = this.decode(o.ids);
          let text = full.slice(o.text.length);
          let reason: 'stop' | 'length' | null = o.ids.length >= max ? 'length' : null;
          const hit = p.stop.map((s) => [s, full.indexOf(s)] as const).find(([, i]) => i >= 0);
          if (hit) {
            text = full.slice(o.text.length, hit[1]);
            reason = 'stop';
          }
          o.text += text;
          o.done = reason !== null;
          const lp: TokenLogprob[] | null = p.logprobs === null ? null : [{
            tokenId: tok, token: this.decode([tok]), logprob: -0.5, rank: 1,
            top: Array.from({ length: p.logprobs }, (_, j) => ({ tokenId: tok + j, token: this.decode([tok + j]), logprob: -0.5 - j })),
          }];
          outputs.push({ index: k, text, tokenIds: [tok], logprobs: lp, cumulativeLogprob: null, finishReason: reason, stopReason: null });
        }
        const finished = out.every((o) => o.done);
        yield {
          requestId, prompt: null, promptTokenIds: ids,
          promptLogprobs: step === 0 && p.promptLogprobs !== null ? ids.map((t, i) => (i === 0 ? null : { tokenId: t, token: this.decode([t]), logprob: -1, rank: 1, top: [] })) : null,
          outputs, finished,
          metrics: { arrivalTime: 0, firstScheduledTime: null, firstTokenTime: null, lastTokenTime: null, finishedTime: null, numCachedTokens: 0 },
        };
        if (finished) return;
      }
    } finally {
      this.running--;
    }
  }

  abort(requestId: string): void {
    this.aborted.add(requestId);
  }

  async stats(): Promise<EngineStats> {
    return {
      numRunning: this.running, numWaiting: 0, kvCacheUsage: this.running / 100, numBlocks: 100,
      numFreeBlocks: 100 - this.running, prefixCacheQueries: 0, prefixCacheHits: 0, numPreemptions: 0,
      promptTokens: this.promptTokens, generationTokens: this.generationTokens,
    };
  }

  async shutdown(): Promise<void> {}
}
