/**
 * The engine core's thread, the far end of `WorkerTransport`. It is started with the engine options
 * as `workerData`, loads the model, reports 'ready', then relays messages to and from an
 * `InProcessTransport` that steps the core here. Every failure is reported as a message; nothing here
 * may crash the host process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadModel } from '../model/load.js';
import { resolveEngineOptions, sizeEngine } from './config.js';
import type { EngineOptions } from './engine-client.js';
import { SamplingParams } from './sampling-params.js';
import { loadDraftModel } from './spec/draft-model.js';
import { InProcessTransport } from './transport.js';
import type { WorkerReply, WorkerRequest } from './worker-transport.js';

const port = parentPort;
if (!port) throw new Error('engine-worker.ts must run in a worker thread');

function post(msg: WorkerReply): void {
  port!.postMessage(msg);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function main(): Promise<void> {
  const opts = resolveEngineOptions(workerData as EngineOptions);
  const loaded = await loadModel(opts.model, {
    backend: opts.backend,
    threads: opts.threads,
    simd: opts.simd,
    dtype: opts.dtype,
    allowNonFiniteWeights: opts.allowNonFiniteWeights,
    quantization: opts.quantization,
    quantizeLmHead: opts.quantizeLmHead,
    activationAware: opts.activationAware,
    onProgress: (e) => post({ type: 'progress', event: e }),
  });
  const draft = opts.speculative?.model ? await loadDraftModel(opts.speculative.model, loaded.backend, opts.dtype) : null;
  const config = sizeEngine(opts, loaded.model.config, loaded.model.dtype, draft?.config ?? null);
  const engine = new InProcessTransport(loaded.model, loaded.tokenizer, config, true, draft);
  engine.attach({
    outputs: (outputs) => post({ type: 'outputs', outputs }),
    requestError: (id, err) => post({ type: 'request-error', id, message: err.message }),
    stepError: (err) => post({ type: 'step-error', message: err.message }),
    lost: () => {},
  });

  port!.on('message', (msg: WorkerRequest) => {
    switch (msg.type) {
      case 'add':
        try {
          const params = SamplingParams.create(msg.params, { vocabSize: loaded.model.config.vocabSize });
          engine.add({ id: msg.id, promptTokenIds: msg.promptTokenIds, params, prompt: msg.prompt });
        } catch (e) {
          post({ type: 'request-error', id: msg.id, message: message(e) });
        }
        break;
      case 'abort':
        engine.abort(msg.id);
        break;
      case 'stats':
        if (msg.snapshotSince === undefined) post({ type: 'stats', seq: msg.seq, stats: engine.core.stats() });
        else {
          const snapshot = engine.core.snapshot(msg.snapshotSince);
          post({ type: 'stats', seq: msg.seq, stats: snapshot.stats, snapshot });
        }
        break;
      case 'shutdown':
        void engine.shutdown();
        // Ends this thread only; native kernel threads must not keep it alive.
        process.exit(0);
    }
  });
  post({ type: 'ready', modelConfig: loaded.model.config, engineConfig: config, dtype: loaded.model.dtype, backend: engine.backendName });
}

main().catch((e: unknown) => post({ type: 'init-error', message: message(e) }));
