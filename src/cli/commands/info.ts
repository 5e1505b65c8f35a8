import type { Command } from 'commander';
import { addCommonOptions, type CommonOpts } from '../options.js';
import { loadWithSpinner } from '../load.js';
import { fail, formatBytes, formatCount, kvTable, printJson } from '../ui.js';

export function registerInfo(program: Command): void {
  addCommonOptions(program.command('info').description('show model shape, size, dtype and the kernel backend in use')).action(async (o: CommonOpts) => {
    try {
      const { dir, model, backend } = await loadWithSpinner(o);
      const c = model.config;
      // K and V, f32, for every layer.
      const kvBytesPerToken = 2 * c.nLayer * c.nEmbd * 4;
      const info = {
        model: o.model,
        dir,
        parameters: model.numParams,
        layers: c.nLayer,
        heads: c.nHead,
        hiddenSize: c.nEmbd,
        vocabSize: c.vocabSize,
        contextLength: c.nPositions,
        checkpointDtype: c.torchDtype,
        dtype: model.dtype,
        weightBytes: model.weightBytes,
        kvBytesPerToken,
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
          ['model', o.model],
          ['directory', dir],
          ['parameters', `${formatCount(info.parameters)} (${info.parameters.toLocaleString('en-US')})`],
          ['layers', c.nLayer],
          ['heads', `${c.nHead} × ${c.nEmbd / c.nHead}`],
          ['hidden size', c.nEmbd],
          ['vocabulary', c.vocabSize],
          ['context', c.nPositions],
          ['dtype', `${model.dtype}${c.torchDtype ? ` (checkpoint ${c.torchDtype})` : ''}`],
          ['weight memory', formatBytes(model.weightBytes)],
          ['KV cache per token', formatBytes(kvBytesPerToken)],
          ['backend', `${backend.name} (${backend.simd}, ${backend.threads} thread${backend.threads === 1 ? '' : 's'})`],
        ]),
      );
    } catch (err) {
      fail(err, o.json);
    }
  });
}
