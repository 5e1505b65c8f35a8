/** Messages between `AsyncLLM` (main thread) and the engine worker. All are structured-clone safe. */
import type { DType } from '../kernels/backend.js';
import type { GPT2Config } from '../model/config.js';
import type { LoadProgress } from '../model/load.js';
import type { EngineConfig } from './config.js';
import type { EngineStats, RequestOutput } from './outputs.js';
import type { SamplingParamsInit } from './sampling-params.js';

export type WorkerRequest =
  | { type: 'add'; id: string; promptTokenIds: number[]; params: SamplingParamsInit; prompt: string | null }
  | { type: 'abort'; id: string }
  | { type: 'stats'; seq: number }
  | { type: 'shutdown' };

export type WorkerReply =
  | { type: 'ready'; modelConfig: GPT2Config; engineConfig: EngineConfig; dtype: DType; backend: string }
  | { type: 'init-error'; message: string }
  | { type: 'progress'; event: LoadProgress }
  | { type: 'outputs'; outputs: RequestOutput[] }
  | { type: 'request-error'; id: string; message: string }
  | { type: 'stats'; seq: number; stats: EngineStats }
  /** A step failed: every request was aborted; the engine keeps serving new ones. */
  | { type: 'step-error'; message: string };
