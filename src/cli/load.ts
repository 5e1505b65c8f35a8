/** Model resolution and loading with the CLI's progress display. */
import type { Backend } from '../kernels/backend.js';
import type { CausalLM } from '../model/model.js';
import { resolveModel } from '../hub/hub.js';
import { loadModel, type LoadedModel } from '../model/load.js';
import { GPT2Tokenizer } from '../tokenizer/index.js';
import { quantizationOptions, type CommonOpts } from './options.js';
import { ProgressBars, spinner } from './progress.js';
import { pc } from './ui.js';

/** Resolves a directory or hub name, downloading with progress bars when the cache lacks it. */
export async function resolveWithProgress(model: string, json: boolean): Promise<string> {
  const bars = new ProgressBars(json);
  try {
    return await resolveModel(model, { onProgress: (e) => bars.update(e.file, e.downloaded, e.total) });
  } finally {
    bars.stop();
  }
}

export async function loadTokenizer(o: CommonOpts): Promise<GPT2Tokenizer> {
  return GPT2Tokenizer.fromDir(await resolveWithProgress(o.model, o.json));
}

/**
 * Runs `load` behind a "Loading NAME" spinner that ends with what was loaded. Used for a bare model
 * and for a whole engine; the spinner is gone before the caller prints anything.
 */
export async function loadBehindSpinner<T>(name: string, json: boolean, load: () => Promise<T>, model: (v: T) => CausalLM): Promise<T> {
  const spin = spinner(`Loading ${pc.bold(name)}`, json);
  const started = performance.now();
  try {
    const v = await load();
    const m = model(v);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    spin.succeed(`Loaded ${pc.bold(name)} ${pc.dim(`(${describeWeights(m)}, ${describeBackend(m.backend)}) in ${secs}s`)}`);
    return v;
  } catch (err) {
    spin.stop(); // cleared: the error line that follows says it all
    throw err;
  }
}

/** Loads weights onto the chosen backend behind a spinner. */
export async function loadWithSpinner(o: CommonOpts): Promise<LoadedModel> {
  const dir = await resolveWithProgress(o.model, o.json);
  const load = () => loadModel(dir, { backend: o.backend, threads: o.threads, simd: o.simd, dtype: o.dtype, allowNonFiniteWeights: o.allowNonFiniteWeights, ...quantizationOptions(o) });
  return loadBehindSpinner(o.model, o.json, load, (l) => l.model);
}

/** e.g. "bf16", or "int8 layers, bf16 lm_head". */
export function describeWeights(m: CausalLM): string {
  if (m.quantization === null) return m.dtype;
  return m.lmHeadQuantized ? `${m.quantization} layers and lm_head` : `${m.quantization} layers, ${m.dtype} lm_head`;
}

/** e.g. "native avx512, 8 threads". */
export function describeBackend(b: Backend): string {
  return `${b.name} ${b.simd}, ${b.threads} thread${b.threads === 1 ? '' : 's'}`;
}
