/**
 * Speculative decoding latency (`bench latency --speculative-config ...`): one request at a
 * time through the engine (greedy for input-grounded, seeded sampling for open-ended), with and without speculation, on the same model in the same run. Reports
 * decode tokens/s (tokens after the first over the time after the first), tokens per engine step,
 * milliseconds per step, and the acceptance rate overall and per draft position, and checks that
 * speculation left the output unchanged.
 *
 * Speedup = (tokens per step) × (plain ms per step ÷ speculative ms per step): the first factor is
 * what the model's outputs allow the proposer to guess, the second what verifying 1 + k rows costs.
 */
import { LLM } from '../engine/llm.js';
import { parseSpeculativeConfig } from '../engine/spec/config.js';
import { loadDraftModel } from '../engine/spec/draft-model.js';
import type { EngineOptions } from '../engine/engine-client.js';
import type { SamplingParamsInit } from '../engine/sampling-params.js';
import type { DType } from '../kernels/backend.js';
import type { CausalLM } from '../model/model.js';
import { loadModel } from '../model/load.js';
import { benchModel } from './model-shape.js';
import { fixed, machineInfo, median, percent, printTable, writeJson, type MachineInfo } from './report.js';
import { workloadPrompt, type SpecWorkload } from './spec-workloads.js';

export interface SpecLatencyOptions {
  model?: string;
  backend?: EngineOptions['backend'];
  simd?: EngineOptions['simd'];
  threads?: number;
  dtype?: DType;
  speculativeConfig: string;
  workload?: SpecWorkload;
  /** Tokens generated per run (default 128). */
  decodeTokens?: number;
  /** Runs per mode, alternating (median). Default 3. */
  reps?: number;
  resultFile?: string | null;
  print?: boolean;
}

export interface SpecLatencyRow {
  mode: 'plain' | 'speculative';
  decodeTokPerS: number;
  tokensPerStep: number;
  msPerStep: number;
}

export interface SpecLatencyResult {
  machine: MachineInfo;
  model: string;
  workload: SpecWorkload;
  speculativeConfig: unknown;
  promptTokens: number;
  decodeTokens: number;
  rows: SpecLatencyRow[];
  speedup: number;
  /** Accepted / proposed draft tokens. */
  acceptanceRate: number;
  /** Per draft position: accepted / drafts verified. */
  acceptanceRatePerPos: number[];
  /** Whether the speculative output equalled the plain one token for token. */
  identical: boolean;
  /**
   * Median cost of a forward pass (and argmax) over 1 + k rows ÷ over 1 row, at the prompt's
   * context, measured back to back: the tokens per step speculation needs just to break even.
   */
  verifyCostRatio: number;
}

/** Times `model.forward` over `rows` rows at positions [ctx, ctx + rows), with logits for all. */
function timeRows(model: CausalLM, cache: ReturnType<CausalLM['createKVCache']>, ctx: number, rows: number, blockSize: number): number {
  const blocks = Math.ceil((ctx + rows) / blockSize);
  const mb = blocks;
  const tokens = Int32Array.from({ length: rows }, (_, i) => (i * 31 + 7) % model.config.vocabSize);
  const positions = Int32Array.from({ length: rows }, (_, i) => ctx + i);
  const slotMapping = Int32Array.from(positions, (p) => (1 + Math.floor(p / blockSize)) * blockSize + (p % blockSize));
  const attn = {
    numSeqs: 1, queryStart: Int32Array.of(0, rows), seqLens: Int32Array.of(ctx + rows), blockTables: Int32Array.from({ length: mb }, (_, i) => 1 + i),
    maxBlocksPerSeq: mb, slotMapping, blockSize,
  };
  const logitRows = Int32Array.from({ length: rows }, (_, i) => i);
  const t0 = performance.now();
  const logits = model.forward({ tokens, positions, attn, logitRows }, cache);
  const V = model.config.vocabSize;
  for (let r = 0; r < rows; r++) model.backend.argmax(logits.subarray(r * V, (r + 1) * V), V);
  return performance.now() - t0;
}

function verifyCost(model: CausalLM, ctx: number, k: number): number {
  const blockSize = 16;
  const cache = model.createKVCache(Math.ceil((ctx + k + 1) / blockSize) + 2, blockSize);
  const one: number[] = [];
  const many: number[] = [];
  for (let i = 0; i < 21; i++) {
    one.push(timeRows(model, cache, ctx, 1, blockSize));
    many.push(timeRows(model, cache, ctx, 1 + k, blockSize));
  }
  return median(many.slice(1)) / median(one.slice(1));
}

interface Run {
  tokens: number[];
  decodeS: number;
  /** Engine steps after the first token: each emits one token plus the drafts it accepted. */
  steps: number;
}

/**
 * Input-grounded text is decoded greedily (copying is the point); open-ended text is sampled, as a
 * chat or story would be, with a fixed seed (speculation draws the same tokens: see spec/rejection.ts).
 */
function paramsFor(workload: SpecWorkload, maxTokens: number): SamplingParamsInit {
  const base = { ignoreEos: true, maxTokens };
  return workload === 'input-grounded' ? { ...base, temperature: 0 } : { ...base, temperature: 0.8, topP: 0.95, seed: 1234 };
}

async function runOnce(llm: LLM, prompt: string, params: SamplingParamsInit): Promise<Run> {
  const accepted = async (): Promise<number> => (await llm.stats()).specDecode?.numAcceptedTokens ?? 0;
  const before = await accepted();
  const tokens: number[] = [];
  let first = 0;
  for await (const d of llm.stream(prompt, params)) {
    const ids = d.outputs[0]?.tokenIds ?? [];
    if (ids.length === 0) continue;
    if (tokens.length === 0) first = performance.now();
    tokens.push(...ids);
  }
  const decodeS = (performance.now() - first) / 1000;
  // A draft accepted beyond max_tokens would be dropped, but the scheduler never drafts past it.
  return { tokens, decodeS, steps: tokens.length - 1 - ((await accepted()) - before) };
}

export async function runSpecLatencyBench(opts: SpecLatencyOptions): Promise<SpecLatencyResult> {
  const spec = parseSpeculativeConfig(opts.speculativeConfig)!;
  const workload = opts.workload ?? 'input-grounded';
  const decodeTokens = opts.decodeTokens ?? 128;
  const reps = opts.reps ?? 3;
  const modelName = benchModel(opts.model, 'f32');
  const { model, tokenizer, backend } = await loadModel(modelName, { backend: opts.backend ?? 'native', threads: opts.threads, simd: opts.simd, dtype: opts.dtype });
  try {
    const draft: CausalLM | null = spec.model ? await loadDraftModel(spec.model, backend, opts.dtype) : null;
    const prompt = workloadPrompt(workload);
    const promptTokens = tokenizer.encode(prompt).length;
    // One sequence at full context: the KV cache holds exactly that.
    const base = { maxNumSeqs: 1, enablePrefixCaching: false };
    const plain = LLM.fromModel(model, tokenizer, base);
    const specLLM = LLM.fromModel(model, tokenizer, { ...base, speculativeConfig: opts.speculativeConfig }, draft);
    if (promptTokens + decodeTokens > Math.min(plain.maxModelLen, specLLM.core.scheduler.maxSequenceTokens)) {
      throw new Error(`spec latency bench: ${promptTokens} prompt + ${decodeTokens} decode tokens exceed the context of ${plain.maxModelLen}`);
    }
    // Warm-up, then alternate the modes so drift in machine load hits both alike.
    await runOnce(plain, prompt, paramsFor(workload, 8));
    await runOnce(specLLM, prompt, paramsFor(workload, 8));
    const before = (await specLLM.stats()).specDecode!;
    const runs: { plain: Run[]; speculative: Run[] } = { plain: [], speculative: [] };
    for (let r = 0; r < reps; r++) {
      runs.plain.push(await runOnce(plain, prompt, paramsFor(workload, decodeTokens)));
      runs.speculative.push(await runOnce(specLLM, prompt, paramsFor(workload, decodeTokens)));
    }
    const after = (await specLLM.stats()).specDecode!;
    for (const r of [...runs.plain, ...runs.speculative]) {
      if (r.tokens.length !== decodeTokens) throw new Error(`spec latency bench: a run stopped after ${r.tokens.length} of ${decodeTokens} tokens`);
    }
    plain.close();
    specLLM.close();

    const row = (mode: 'plain' | 'speculative'): SpecLatencyRow => {
      const rs = runs[mode];
      const tokPerS = median(rs.map((x) => (x.tokens.length - 1) / x.decodeS));
      return { mode, decodeTokPerS: tokPerS, tokensPerStep: median(rs.map((x) => (x.tokens.length - 1) / x.steps)), msPerStep: median(rs.map((x) => (1000 * x.decodeS) / x.steps)) };
    };
    const rows = [row('plain'), row('speculative')];
    const drafts = after.numDrafts - before.numDrafts;
    const result: SpecLatencyResult = {
      machine: machineInfo(),
      model: modelName,
      workload,
      speculativeConfig: JSON.parse(opts.speculativeConfig) as unknown,
      promptTokens,
      decodeTokens,
      rows,
      speedup: rows[1]!.decodeTokPerS / rows[0]!.decodeTokPerS,
      acceptanceRate: (after.numAcceptedTokens - before.numAcceptedTokens) / Math.max(1, after.numDraftTokens - before.numDraftTokens),
      acceptanceRatePerPos: after.acceptedPerPos.map((a, i) => (a - before.acceptedPerPos[i]!) / Math.max(1, drafts)),
      identical: runs.speculative.every((x) => x.tokens.join() === runs.plain[0]!.tokens.join()),
      verifyCostRatio: verifyCost(model, promptTokens, spec.numSpeculativeTokens),
    };
    if (opts.print ?? true) printSpecLatency(result);
    const file = opts.resultFile === undefined ? `bench-results/latency-spec-${workload}.json` : opts.resultFile;
    if (file) console.log(`\nwrote ${writeJson(file, result)}`);
    return result;
  } finally {
    backend.dispose();
  }
}

export function printSpecLatency(r: SpecLatencyResult): void {
  const how = r.workload === 'input-grounded' ? 'greedy' : 'sampled (T 0.8, top-p 0.95, seed 1234)';
  console.log(`${r.machine.cpu}; ${r.workload} workload, ${r.promptTokens}-token prompt, ${r.decodeTokens} ${how} tokens, batch 1; medians`);
  printTable(`Speculative decoding: ${r.model}`, [
    { header: 'mode', value: (row: SpecLatencyRow) => row.mode },
    { header: 'decode tok/s', value: (row) => fixed(row.decodeTokPerS) },
    { header: 'tokens/step', value: (row) => fixed(row.tokensPerStep, 2) },
    { header: 'ms/step', value: (row) => fixed(row.msPerStep, 2) },
  ], r.rows);
  console.log(`speedup ${fixed(r.speedup, 2)}x · acceptance ${percent(r.acceptanceRate)} · per position ${r.acceptanceRatePerPos.map(percent).join(' ')} · output ${r.identical ? 'identical' : 'DIFFERENT'}`);
  console.log(`a forward pass over 1 + k rows costs ${fixed(r.verifyCostRatio, 2)}x one row: speculation breaks even at that many tokens per step`);
}
