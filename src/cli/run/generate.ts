/** `tinyvllm generate`, loaded only when the command runs. */
import { ENGINE_DEFAULTS } from '../../engine/config.js';
import { LLM, mergeOutput } from '../../engine/llm.js';
import { formatMemorySize } from '../../engine/memory-size.js';
import type { PromptInput } from '../../engine/engine-client.js';
import type { RequestOutput } from '../../engine/outputs.js';
import { engineOptions, samplingInit, type CommonOpts, type RawEngineFlags, type RawSamplingFlags } from '../options.js';
import { loadBehindSpinner, resolveWithProgress } from '../load.js';
import { readPromptsFile } from '../prompts-file.js';
import { kvTable } from '../tables.js';
import { fail, interactive, pc, printJson } from '../ui.js';

export type GenerateOpts = CommonOpts & RawEngineFlags & RawSamplingFlags & { promptsFile?: string };

/**
 * A one-shot run never holds more than its own `sequences`: unless --kv-cache-memory is given, the
 * engine runs at most that many at once, so the KV cache is sized for them at full context
 * (`sizeEngine` caps it at maxNumSeqs full-length sequences) rather than the 1 GiB default, which
 * takes seconds to allocate and touch.
 */
async function createEngine(o: GenerateOpts, sequences: number): Promise<LLM> {
  const dir = await resolveWithProgress(o.model, o.json);
  const opts = { ...engineOptions(o), model: dir };
  if (o.kvCacheMemory === undefined) opts.maxNumSeqs = Math.min(opts.maxNumSeqs ?? ENGINE_DEFAULTS.maxNumSeqs, sequences);
  return loadBehindSpinner(o.model, o.json, () => LLM.create(opts), (llm) => llm.model);
}

/** The KV cache the engine allocated, for --json and the batch summary. */
function kvCacheOf(llm: LLM): { dtype: string; blocks: number; bytes: number } {
  const { kvCacheDtype, numBlocks, blockSize } = llm.config;
  return { dtype: kvCacheDtype, blocks: numBlocks, bytes: numBlocks * blockSize * llm.model.kvBytesPerToken(kvCacheDtype) };
}

/** Prompt tokens, for the default --max-tokens (a token-id list is taken as is; the engine checks it). */
function promptLength(llm: LLM, p: PromptInput): number {
  return typeof p === 'string' ? llm.tokenizer.encode(p).length : p.promptTokenIds.length;
}

function completionJson(r: RequestOutput) {
  return r.outputs.map((c) => ({ index: c.index, text: c.text, tokenIds: c.tokenIds, finishReason: c.finishReason, ...(c.logprobs ? { logprobs: c.logprobs } : {}) }));
}

/** Streams one prompt's continuation to stdout as it is generated, then the speed on stderr. */
async function streamOne(llm: LLM, prompt: string, o: GenerateOpts): Promise<void> {
  const params = samplingInit(o, promptLength(llm, prompt), llm.maxModelLen);
  const live = !o.json && (params.n ?? 1) === 1;
  const started = performance.now();
  let firstAt: number | null = null;
  let final: RequestOutput | null = null;
  for await (const delta of llm.stream(prompt, params)) {
    // The prompt is echoed only once the engine has accepted the request (bad flags fail first).
    if (live && final === null) process.stdout.write(pc.bold(prompt));
    final = mergeOutput(final, delta);
    if (firstAt === null && delta.outputs.some((c) => c.tokenIds.length > 0)) firstAt = performance.now();
    if (live) for (const c of delta.outputs) process.stdout.write(c.text);
  }
  if (!final) throw new Error('the engine returned no output');
  const secs = (performance.now() - started) / 1000;
  const generated = final.outputs.reduce((s, c) => s + c.tokenIds.length, 0);
  // Decode speed: the tokens after the first, over the time after the first (prefill excluded).
  const decodeSecs = firstAt === null ? secs : (performance.now() - firstAt) / 1000;
  const tps = generated > 1 && decodeSecs > 0 ? (generated - 1) / decodeSecs : generated / secs;
  const ttftMs = firstAt === null ? null : firstAt - started;
  if (o.json) {
    const usage = { promptTokens: final.promptTokenIds.length, completionTokens: generated };
    printJson({ model: o.model, prompt, promptTokenIds: final.promptTokenIds, outputs: completionJson(final), usage, timeToFirstTokenMs: ttftMs, tokensPerSecond: tps, kvCache: kvCacheOf(llm) });
    return;
  }
  if (live) process.stdout.write('\n');
  else for (const c of final.outputs) console.log(`${pc.cyan(`[${c.index}]`)} ${pc.bold(prompt)}${c.text}`);
  const finish = final.outputs.map((c) => c.finishReason).join(', ');
  const ttft = ttftMs === null ? '-' : `${ttftMs.toFixed(0)} ms`;
  console.error(pc.dim(`${generated} tokens in ${secs.toFixed(2)} s · ${tps.toFixed(1)} tokens/s · first token ${ttft} · finish ${finish}`));
}

/** Runs every prompt through the engine as one batch; results come back in input order. */
async function runBatch(llm: LLM, prompts: PromptInput[], o: GenerateOpts): Promise<void> {
  const started = performance.now();
  const params = prompts.map((p) => samplingInit(o, promptLength(llm, p), llm.maxModelLen));
  const results = await llm.generate(prompts, params, { progress: interactive(o.json) });
  const secs = (performance.now() - started) / 1000;
  const outTokens = results.reduce((s, r) => s + r.outputs.reduce((a, c) => a + c.tokenIds.length, 0), 0);
  const inTokens = results.reduce((s, r) => s + r.promptTokenIds.length, 0);
  if (o.json) {
    printJson({
      model: o.model,
      results: results.map((r) => ({ prompt: r.prompt ?? null, promptTokenIds: r.promptTokenIds, outputs: completionJson(r) })),
      usage: { promptTokens: inTokens, completionTokens: outTokens },
      seconds: secs,
      outputTokensPerSecond: outTokens / secs,
      kvCache: kvCacheOf(llm),
    });
    return;
  }
  results.forEach((r, i) => {
    const prompt = r.prompt ?? pc.dim(`<${r.promptTokenIds.length} prompt tokens>`);
    for (const c of r.outputs) console.log(`${pc.cyan(`[${i}${r.outputs.length > 1 ? `.${c.index}` : ''}]`)} ${pc.bold(prompt)}${c.text}`);
  });
  const stats = await llm.stats();
  console.error(
    kvTable([
      ['requests', results.length],
      ['tokens in / out', `${inTokens} / ${outTokens}`],
      ['time', `${secs.toFixed(2)} s`],
      ['output tokens/s', (outTokens / secs).toFixed(1)],
      ['prefix cache hits', `${stats.prefixCacheHits} / ${stats.prefixCacheQueries}`],
      ['preemptions', stats.numPreemptions],
      ['KV cache', `${formatMemorySize(kvCacheOf(llm).bytes)} (${kvCacheOf(llm).dtype})`],
    ]),
  );
}

/** `tinyvllm generate`: streams one prompt, or runs a prompts file (plus the prompt) as one batch. */
export async function generate(prompt: string | undefined, o: GenerateOpts): Promise<void> {
  let llm: LLM | null = null;
  try {
    if (prompt === undefined && !o.promptsFile) throw new Error('give a prompt or --prompts-file FILE');
    // Read the file before the (slow) model load so a bad file fails at once.
    const batch = o.promptsFile ? readPromptsFile(o.promptsFile) : null;
    const prompts = batch && (prompt === undefined ? batch : [prompt, ...batch]);
    llm = await createEngine(o, Math.max(1, (prompts?.length ?? 1) * (o.n ?? 1)));
    if (prompts) await runBatch(llm, prompts, o);
    else await streamOne(llm, prompt!, o);
  } catch (err) {
    fail(err, o.json);
  } finally {
    llm?.close();
  }
}
