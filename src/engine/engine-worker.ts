/**
 * The engine core's thread. `AsyncLLM` starts it with the engine options as `workerData`; it loads
 * the model, reports 'ready', then serves add / abort / stats / shutdown messages while an
 * `EngineLoop` steps the core and posts each step's deltas back. Every failure is reported as a
 * message; nothing here may crash the host process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadModel } from '../model/load.js';
import { resolveEngineOptions, sizeEngine } from './config.js';
import type { EngineOptions } from './engine-client.js';
import { EngineCore } from './engine-core.js';
import { EngineLoop } from './engine-loop.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';
import { SamplingParams } from './sampling-params.js';

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
    onProgress: (e) => post({ type: 'progress', event: e }),
  });
  const config = sizeEngine(opts, loaded.model.config, loaded.model.dtype);
  const core = new EngineCore(loaded.model, loaded.tokenizer, config);
  const loop = new EngineLoop(
    core,
    (outputs) => post({ type: 'outputs', outputs }),
    (err) => post({ type: 'step-error', message: err.message }),
  );

  port!.on('message', (msg: WorkerRequest) => {
    switch (msg.type) {
      case 'add':
        try {
          const params = SamplingParams.create(msg.params, { vocabSize: loaded.model.config.vocabSize });
          core.addRequest(msg.id, msg.promptTokenIds, params, msg.prompt);
          loop.kick();
        } catch (e) {
          post({ type: 'request-error', id: msg.id, message: message(e) });
        }
        break;
      case 'abort': {
        const out = core.abort(msg.id);
        if (out) post({ type: 'outputs', outputs: [out] });
        break;
      }
      case 'stats':
        post({ type: 'stats', seq: msg.seq, stats: core.stats() });
        break;
      case 'shutdown':
        core.abortAll();
        loaded.backend.dispose();
        // Ends this thread only; native kernel threads must not keep it alive.
        process.exit(0);
    }
  });
  post({ type: 'ready', modelConfig: loaded.model.config, engineConfig: config, dtype: loaded.model.dtype, backend: `${loaded.backend.name}/${loaded.backend.simd}` });
}

main().catch((e: unknown) => post({ type: 'init-error', message: message(e) }));
