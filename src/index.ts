/** tinyvllm's public API: `import { LLM } from 'tinyvllm'`. */
export * from './engine/index.js';
export { GPT2Tokenizer, IncrementalDetokenizer } from './tokenizer/index.js';
export { loadModel, type LoadedModel } from './model/load.js';
export { resolveModel, downloadModel } from './hub/hub.js';
export { GPT2Model } from './model/gpt2.js';
export type { GPT2Config, LlamaConfig, ModelConfig } from './model/config.js';
export { createModel, type CausalLM } from './model/model.js';
export { LlamaModel } from './model/llama.js';
export { createBackend } from './kernels/index.js';
export type { Backend } from './kernels/backend.js';
export { startServer, type ServeOptions, type RunningServer } from './server/serve.js';
