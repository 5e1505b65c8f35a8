import { describe, expect, it } from 'vitest';
import { resolveEngineOptions, sizeEngine } from '../../src/engine/config.js';
import { formatMemorySize, parseMemorySize } from '../../src/engine/memory-size.js';
import type { GPT2Config } from '../../src/model/config.js';

describe('parseMemorySize', () => {
  it.each([
    ['2GiB', 2 * 1024 ** 3],
    ['512MiB', 512 * 1024 ** 2],
    ['1.5GB', 1.5e9],
    ['64k', 65536],
    ['10 mb', 1e7],
    ['1T', 1024 ** 4],
    ['4096', 4096],
    [12345, 12345],
    [1.9, 1],
  ] as const)('%s is %d bytes', (input, bytes) => {
    expect(parseMemorySize(input)).toBe(bytes);
  });

  it.each(['', 'lots', '2 GiBs', '-1GiB', '0', '1e3'])('rejects %j, naming the option', (input) => {
    expect(() => parseMemorySize(input, '--kv-cache-memory')).toThrow(/^--kv-cache-memory: /);
  });

  it('rejects non-positive numbers', () => {
    expect(() => parseMemorySize(0, 'kv')).toThrow(/kv: expected a positive number of bytes, got 0/);
    expect(() => parseMemorySize(Number.NaN, 'kv')).toThrow(/kv/);
  });

  it('formats for humans', () => {
    expect(formatMemorySize(512)).toBe('512 B');
    expect(formatMemorySize(1.5 * 1024 ** 3)).toBe('1.50 GiB');
  });
});

describe('engine options', () => {
  const gpt2: GPT2Config = {
    modelType: 'gpt2', vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, nInner: 3072,
    layerNormEpsilon: 1e-5, activation: 'gelu_new', bosTokenId: 50256, eosTokenId: 50256, torchDtype: null,
  };

  it('fills in defaults', () => {
    const o = resolveEngineOptions({ model: 'gpt2' });
    expect(o).toMatchObject({ backend: 'auto', simd: 'auto', blockSize: 16, maxNumSeqs: 256, maxNumBatchedTokens: 2048, enablePrefixCaching: true, kvCacheMemory: 2 ** 30, activationAware: true });
    expect(resolveEngineOptions({ model: 'gpt2', quantization: 'q4', activationAware: false }).activationAware).toBe(false);
  });

  it('names the bad option', () => {
    expect(() => resolveEngineOptions({ model: '' })).toThrow(/engine option model/);
    expect(() => resolveEngineOptions({ model: 'gpt2', maxNumSeqs: 1.5 })).toThrow(/maxNumSeqs: expected a positive integer, got 1.5/);
    expect(() => resolveEngineOptions({ model: 'gpt2', backend: 'gpu' as 'native' })).toThrow(/backend: expected one of auto, native, reference, got gpu/);
    expect(() => resolveEngineOptions({ model: 'gpt2', simd: 'neon' as 'avx2' })).toThrow(/simd: expected one of auto, avx512-bf16, avx512, avx2, scalar, got neon/);
    expect(() => resolveEngineOptions({ model: 'gpt2', kvCacheMemory: 'big' })).toThrow(/kvCacheMemory: cannot parse 'big'/);
    expect(() => resolveEngineOptions({ model: 'gpt2', activationAware: 'no' as unknown as boolean })).toThrow(/engine option activationAware: expected a boolean, got no/);
  });

  it('buys as many KV blocks as the budget allows, capped at what maxNumSeqs full sequences use', () => {
    // GPT-2 124M: 2 (K, V) x 12 layers x 768 x 4 bytes = 73728 bytes per token; 16-token blocks.
    const perBlock = 73728 * 16;
    expect(sizeEngine(resolveEngineOptions({ model: 'gpt2' }), gpt2).numBlocks).toBe(Math.floor(2 ** 30 / perBlock));
    const capped = sizeEngine(resolveEngineOptions({ model: 'gpt2', maxNumSeqs: 2, maxModelLen: 100 }), gpt2);
    expect(capped.numBlocks).toBe(2 * Math.ceil(100 / 16) + 1);
    expect(capped.maxModelLen).toBe(100);
    expect(() => sizeEngine(resolveEngineOptions({ model: 'gpt2', kvCacheMemory: perBlock }), gpt2)).toThrow(/at least 2 are needed/);
    expect(() => sizeEngine(resolveEngineOptions({ model: 'gpt2', maxModelLen: 2048 }), gpt2)).toThrow(/maxModelLen: 2048 exceeds the model's context length \(n_positions = 1024\)/);
  });
});
