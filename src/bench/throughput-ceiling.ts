/**
 * What the throughput benchmark's workload could reach at best on this machine, from the measured
 * FMA peak and read bandwidth: a roofline over the whole run.
 *
 * - Batched: every step is bounded below by its FLOPs at the FMA peak and by the bytes it must read
 *   (weights once per step, each sequence's K/V per decode step) at the read bandwidth, so the
 *   run takes at least max(total FLOPs / peak, total bytes / bandwidth).
 * - One at a time: the prefill as above, then each decode step streams every weight once for a
 *   single row: max(step FLOPs / peak, (weights + K/V) / bandwidth), summed over the steps.
 *
 * Their ratio is the largest speed-up continuous batching can show here: it is set by how many
 * FLOPs the machine does per byte it reads, not by the engine.
 */

export interface CeilingModel {
  nLayer: number;
  nEmbd: number;
  /** Width of the MLP's hidden layer (4 * nEmbd in GPT-2). */
  nInner: number;
  vocabSize: number;
  /** Bytes per weight value (4 for f32, 2 for bf16/f16). */
  weightBytes: number;
  /** Bytes per cached K or V value. */
  kvBytes: number;
  /** Matmul weights of one layer (default GPT-2's 4 nEmbd^2 + 2 nEmbd nInner). */
  layerParams?: number;
  /** Query heads x head size, the width attention computes over (default nEmbd). */
  attnWidth?: number;
  /** K/V heads x head size, the width cached per token and layer (default nEmbd). */
  kvWidth?: number;
}

export interface CeilingWorkload {
  numPrompts: number;
  inputLen: number;
  outputLen: number;
}

export interface CeilingMachine {
  /** FMA peak in FLOP/s over all threads, at the precision the GEMMs run in. */
  flops: number;
  /** Read bandwidth in bytes/s. */
  readBytes: number;
}

export interface ThroughputCeiling {
  /** Best output tokens/s of the batched run, and of the one-at-a-time run. */
  batchedTokPerS: number;
  sequentialTokPerS: number;
  /** batchedTokPerS / sequentialTokPerS. */
  ratio: number;
  /** Which bound sets the batched ceiling. */
  batchedBound: 'compute' | 'bandwidth';
}

/** Weight values of the per-layer matmuls (GPT-2: c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj) of all layers. */
export function layerMatmulParams(m: CeilingModel): number {
  const c = m.nEmbd;
  return m.nLayer * (m.layerParams ?? c * 3 * c + c * c + 2 * c * m.nInner);
}

/** FLOPs of one token through the layers attending to `ctx` positions (matmuls + QK and PV). */
function tokenFlops(m: CeilingModel, ctx: number): number {
  return 2 * layerMatmulParams(m) + m.nLayer * 4 * ctx * (m.attnWidth ?? m.nEmbd);
}

/** FLOPs of one row of logits (the tied lm_head). */
function logitFlops(m: CeilingModel): number {
  return 2 * m.nEmbd * m.vocabSize;
}

/** Bytes of K and V for `ctx` positions over all layers. */
function kvBytes(m: CeilingModel, ctx: number): number {
  return 2 * m.nLayer * ctx * (m.kvWidth ?? m.nEmbd) * m.kvBytes;
}

/** Bytes of weights one forward step streams (layer matmuls and lm_head). */
function weightStepBytes(m: CeilingModel): number {
  return (layerMatmulParams(m) + m.nEmbd * m.vocabSize) * m.weightBytes;
}

/** FLOPs and minimum bytes of one request's prefill: all prompt rows, one row of logits. */
function prefill(m: CeilingModel, w: CeilingWorkload): { flops: number; bytes: number } {
  let flops = logitFlops(m);
  for (let i = 1; i <= w.inputLen; i++) flops += tokenFlops(m, i);
  return { flops, bytes: weightStepBytes(m) + kvBytes(m, w.inputLen) };
}

/** FLOPs and bytes of decode step `j` (1-based) of one request: one row at context inputLen + j. */
function decodeStep(m: CeilingModel, w: CeilingWorkload, j: number): { flops: number; kv: number } {
  const ctx = w.inputLen + j;
  return { flops: tokenFlops(m, ctx) + logitFlops(m), kv: kvBytes(m, ctx) };
}

export function throughputCeiling(m: CeilingModel, w: CeilingWorkload, machine: CeilingMachine): ThroughputCeiling {
  const p = prefill(m, w);
  // Each request's first output token comes from its prefill; the other outputLen - 1 from decode steps.
  let seqSeconds = Math.max(p.flops / machine.flops, p.bytes / machine.readBytes);
  let decodeFlops = 0;
  let decodeKv = 0;
  for (let j = 1; j < w.outputLen; j++) {
    const s = decodeStep(m, w, j);
    decodeFlops += s.flops;
    decodeKv += s.kv;
    seqSeconds += Math.max(s.flops / machine.flops, (weightStepBytes(m) + s.kv) / machine.readBytes);
  }
  const batchedFlops = w.numPrompts * (p.flops + decodeFlops);
  // Weights are read at least once per decode step of the whole batch; K/V once per sequence and step.
  const batchedBytes = w.numPrompts * (p.bytes + decodeKv) + (w.outputLen - 1) * weightStepBytes(m);
  const computeS = batchedFlops / machine.flops;
  const bandwidthS = batchedBytes / machine.readBytes;
  const batchedTokPerS = (w.numPrompts * w.outputLen) / Math.max(computeS, bandwidthS);
  const sequentialTokPerS = w.outputLen / seqSeconds;
  return {
    batchedTokPerS,
    sequentialTokPerS,
    ratio: batchedTokPerS / sequentialTokPerS,
    batchedBound: computeS >= bandwidthS ? 'compute' : 'bandwidth',
  };
}
