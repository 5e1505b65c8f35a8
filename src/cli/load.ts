/** Model resolution and loading with the CLI's progress display. */
import { resolveModel } from '../model/hub.js';
import { loadModel, type LoadedModel } from '../model/load.js';
import { GPT2Tokenizer } from '../tokenizer/index.js';
import type { CommonOpts } from './options.js';
import { ProgressBars, pc, spinner } from './ui.js';

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
  const dir = await resolveWithProgress(o.model, o.json);
  return GPT2Tokenizer.fromDir(dir);
}

/** Loads weights onto the chosen backend behind a spinner that reports what was loaded. */
export async function loadWithSpinner(o: CommonOpts): Promise<LoadedModel> {
  const dir = await resolveWithProgress(o.model, o.json);
  const spin = spinner(`Loading ${pc.bold(o.model)}`, o.json);
  try {
    const started = performance.now();
    const loaded = await loadModel(dir, { backend: o.backend, threads: o.threads, dtype: o.dtype });
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    spin.succeed(`Loaded ${pc.bold(o.model)} (${loaded.model.dtype}, ${loaded.backend.name}/${loaded.backend.simd}) in ${secs}s`);
    return loaded;
  } catch (err) {
    spin.fail(`Could not load ${o.model}`);
    throw err;
  }
}
