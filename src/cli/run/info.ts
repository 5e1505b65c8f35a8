/** `tinyvllm info`, loaded only when the command runs. */
import { formatMemorySize } from '../../engine/memory-size.js';
import { kvBytesPerToken } from '../../model/kv-cache.js';
import type { CommonOpts } from '../options.js';
import { describeBackend, loadWithSpinner } from '../load.js';
import { kvTable } from '../tables.js';
import { fail, formatCount, printJson } from '../ui.js';

export async function info(o: CommonOpts): Promise<void> {
  try {
    const { dir, model, backend } = await loadWithSpinner(o);
    const c = model.config;
    const info = {
      model: o.model,
      dir,
      parameters: model.numParams,
      layers: c.nLayer,
      heads: c.nHead,
      headDim: c.nEmbd / c.nHead,
      hiddenSize: c.nEmbd,
      innerSize: c.nInner,
      vocabSize: c.vocabSize,
      contextLength: c.nPositions,
      checkpointDtype: c.torchDtype,
      dtype: model.dtype,
      weightBytes: model.weightBytes,
      kvBytesPerToken: kvBytesPerToken(c, 'f32'),
      /** With --kv-cache-dtype bf16 or f16. */
      kvBytesPerTokenHalf: kvBytesPerToken(c, 'bf16'),
      backend: backend.name,
      simd: backend.simd,
      threads: backend.threads,
    };
    if (o.json) {
      printJson(info);
      return;
    }
    console.log(
      kvTable([
        ['model', o.model === dir ? dir : `${o.model} (${dir})`],
        ['parameters', `${formatCount(info.parameters)} (${info.parameters.toLocaleString('en-US')})`],
        ['layers', c.nLayer],
        ['heads', `${c.nHead} × ${info.headDim} dims`],
        ['hidden size', `${c.nEmbd} (MLP ${c.nInner})`],
        ['vocabulary', c.vocabSize],
        ['context', `${c.nPositions} tokens`],
        ['dtype', c.torchDtype ? `${model.dtype} (checkpoint ${c.torchDtype})` : model.dtype],
        ['weight memory', formatMemorySize(model.weightBytes)],
        ['KV cache', `${formatMemorySize(info.kvBytesPerToken)} per token, ${formatMemorySize(info.kvBytesPerToken * c.nPositions)} per full context (f32)`],
        ['KV bf16/f16', `${formatMemorySize(info.kvBytesPerTokenHalf)} per token, ${formatMemorySize(info.kvBytesPerTokenHalf * c.nPositions)} per full context`],
        ['backend', describeBackend(backend)],
      ]),
    );
  } catch (err) {
    fail(err, o.json);
  }
}
