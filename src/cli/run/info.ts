/** `tinyvllm info`, loaded only when the command runs. */
import { formatMemorySize } from '../../engine/memory-size.js';
import { architectureOf, headDim, isLlamaConfig, kvHeads, type ModelConfig } from '../../model/config.js';
import type { InputScaling } from '../../model/quantization.js';
import type { CommonOpts } from '../options.js';
import { describeBackend, describeWeights, loadWithSpinner } from '../load.js';
import { kvTable } from '../tables.js';
import { fail, formatCount, printJson } from '../ui.js';

export type InfoOpts = CommonOpts & { kvCacheDtype?: 'auto' | 'f32' | 'bf16' | 'f16' };

export async function info(o: InfoOpts): Promise<void> {
  try {
    const { dir, model, backend } = await loadWithSpinner(o);
    const c = model.config;
    // The cache the engine would allocate: 'auto' follows the weights' compute dtype.
    const kvDtype = o.kvCacheDtype === undefined || o.kvCacheDtype === 'auto' ? model.dtype : o.kvCacheDtype;
    const info = {
      model: o.model,
      dir,
      architecture: architectureOf(c),
      parameters: model.numParams,
      layers: c.nLayer,
      heads: c.nHead,
      kvHeads: kvHeads(c),
      headDim: headDim(c),
      rope: ropeInfo(c),
      hiddenSize: c.nEmbd,
      innerSize: c.nInner,
      vocabSize: c.vocabSize,
      contextLength: c.nPositions,
      checkpointDtype: c.torchDtype,
      dtype: model.dtype,
      weightBytes: model.weightBytes,
      quantization: model.quantization,
      lmHeadQuantized: model.lmHeadQuantized,
      /** One layer's prepared matrices and vectors. */
      layerBytes: model.layerBytes,
      /** Per quantized matrix after a norm: SmoothQuant's or the searched activation-aware alpha. */
      inputScaling: model.inputScaling,
      kvCacheDtype: kvDtype,
      /** In the `kvCacheDtype` cache. */
      kvBytesPerToken: model.kvBytesPerToken(kvDtype),
      kvBytesPerTokenF32: model.kvBytesPerToken('f32'),
      /** With --kv-cache-dtype bf16 or f16. */
      kvBytesPerTokenHalf: model.kvBytesPerToken('bf16'),
      backend: backend.name,
      simd: backend.simd,
      threads: backend.threads,
    };
    if (o.json) {
      printJson(info);
      return;
    }
    const kvRow = (bytes: number): string => `${formatMemorySize(bytes)} per token, ${formatMemorySize(bytes * c.nPositions)} per full context`;
    console.log(
      kvTable([
        ['model', o.model === dir ? dir : `${o.model} (${dir})`],
        ['architecture', info.architecture],
        ['parameters', `${formatCount(info.parameters)} (${info.parameters.toLocaleString('en-US')})`],
        ['layers', c.nLayer],
        ['heads', info.kvHeads === c.nHead ? `${c.nHead} × ${info.headDim} dims` : `${c.nHead} query, ${info.kvHeads} KV (groups of ${c.nHead / info.kvHeads}) × ${info.headDim} dims`],
        ...(info.rope ? [['rope', describeRope(info.rope)] as [string, string]] : []),
        ['hidden size', `${c.nEmbd} (MLP ${c.nInner})`],
        ['vocabulary', c.vocabSize],
        ['context', `${c.nPositions} tokens`],
        ['dtype', c.torchDtype ? `${model.dtype} (checkpoint ${c.torchDtype})` : model.dtype],
        ['quantization', model.quantization ?? 'none'],
        ...(model.inputScaling.length ? [['calibration', describeScaling(model.inputScaling)] as [string, string]] : []),
        ['weight memory', `${formatMemorySize(model.weightBytes)} (${formatMemorySize(model.layerBytes)} per layer; ${describeWeights(model)})`],
        ['KV cache', `${kvRow(info.kvBytesPerToken)} (${kvDtype})`],
        kvDtype === 'f32' ? ['KV bf16/f16', kvRow(info.kvBytesPerTokenHalf)] : ['KV f32', kvRow(info.kvBytesPerTokenF32)],
        ['backend', describeBackend(backend)],
      ]),
    );
  } catch (err) {
    fail(err, o.json);
  }
}

/** e.g. "activation-aware scales on 20 of 24 matrices after norms (alpha 0.5 × 17, alpha 0.75 × 3; the rest as stored)". */
export function describeScaling(list: readonly InputScaling[]): string {
  // SmoothQuant rescales every matrix after a norm, with one alpha per load (0 included).
  if (list[0]!.method === 'smoothquant') return `SmoothQuant alpha ${list[0]!.alpha} on all ${list.length} matrices after norms`;
  const counts = new Map<number, number>();
  for (const s of list) if (s.alpha > 0) counts.set(s.alpha, (counts.get(s.alpha) ?? 0) + 1);
  const scaled = [...counts.values()].reduce((a, b) => a + b, 0);
  const method = 'activation-aware scales';
  const alphas = [...counts].sort((a, b) => a[0] - b[0]).map(([a, n]) => `alpha ${a} × ${n}`).join(', ');
  if (scaled === 0) return `${method}: none gained enough, all ${list.length} matrices after norms as stored`;
  return `${method} on ${scaled} of ${list.length} matrices after norms (${alphas}${scaled < list.length ? '; the rest as stored' : ''})`;
}

interface RopeInfo {
  theta: number;
  scaling: { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number } | null;
}

/** Rotary settings of a Llama-family model; null for GPT-2 (learned positions). */
function ropeInfo(c: ModelConfig): RopeInfo | null {
  return isLlamaConfig(c) ? { theta: c.ropeTheta, scaling: c.ropeScaling } : null;
}

function describeRope(r: RopeInfo): string {
  const s = r.scaling;
  return `theta ${r.theta}` + (s ? `, llama3 scaling × ${s.factor} (low ${s.lowFreqFactor}, high ${s.highFreqFactor}, original context ${s.originalMaxPositionEmbeddings})` : '');
}
