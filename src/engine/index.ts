/** Public surface of the engine. */
export { LLM, type GenerateOptions } from './llm.js';
export { AsyncLLM } from './async-llm.js';
export { EngineCore } from './engine-core.js';
export type { EngineClient, EngineOptions, PromptInput } from './engine-client.js';
export { ENGINE_DEFAULTS, resolveEngineOptions, sizeEngine, type EngineConfig, type ResolvedEngineOptions } from './config.js';
export { parseMemorySize, formatMemorySize } from './memory-size.js';
export { mergeOutput } from './llm.js';
export { ParamError, SamplingParams, type SamplingParamsInit } from './sampling-params.js';
export type { CompletionOutput, EngineStats, FinishReason, RequestMetrics, RequestOutput, TokenLogprob, TopLogprob } from './outputs.js';
export { parseSpeculativeConfig, type SpeculativeConfig, type SpeculativeConfigInit } from './spec/config.js';
export type { SpecDecodeStats } from './spec/stats.js';
