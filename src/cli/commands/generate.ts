import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { LLM } from '../../engine/llm.js';
import type { PromptInput } from '../../engine/engine-client.js';
import type { RequestOutput } from '../../engine/outputs.js';
import { addCommonOptions, addEngineOptions, addSamplingOptions, engineOptions, samplingInit, type CommonOpts, type RawEngineFlags, type RawSamplingFlags } from '../options.js';
import { resolveWithProgress } from '../load.js';
import { fail, kvTable, pc, printJson, spinner } from '../ui.js';

type GenerateOpts = CommonOpts & RawEngineFlags & RawSamplingFlags & { promptsFile?: string };

/** One prompt per line, or JSONL whose lines are strings or objects with `prompt` / `prompt_token_ids`. */
export function readPromptsFile(path: string): PromptInput[] {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read prompts file ${path}: ${(err as Error).message}`);
  }
  const lines = raw.split('\n').filter((l) => l.trim() !== '');
  const isJsonl = lines.length > 0 && lines.every((l) => /^\s*[{"]/.test(l));
  if (!isJsonl) return lines;
  return lines.map((line, i) => {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`${path}:${i + 1}: not valid JSON`);
    }
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.prompt === 'string') return o.prompt;
      if (Array.isArray(o.prompt_token_ids) && o.prompt_token_ids.every((t) => Number.isInteger(t))) return { promptTokenIds: o.prompt_token_ids as number[] };
    }
    throw new Error(`${path}:${i + 1}: expected a string or an object with "prompt" or "prompt_token_ids"`);
  });
}

async function createEngine(o: GenerateOpts): Promise<LLM> {
  const dir = await resolveWithProgress(o.model, o.json);
  const spin = spinner(`Loading ${pc.bold(o.model)}`, o.json);
  try {
    const llm = await LLM.create({ ...engineOptions(o), model: dir });
    spin.succeed(`Loaded ${pc.bold(o.model)}`);
    return llm;
  } catch (err) {
    spin.fail(`Could not load ${o.model}`);
    throw err;
  }
}

async function streamOne(llm: LLM, prompt: string, o: GenerateOpts): Promise<void> {
  const params = samplingInit(o);
  const started = performance.now();
  let firstAt: number | null = null;
  const texts: string[] = [];
  const tokenIds: number[][] = [];
  let last: RequestOutput | null = null;
  const single = (params.n ?? 1) === 1;
  if (!o.json && single) process.stdout.write(pc.bold(prompt));
  for await (const delta of llm.stream(prompt, params)) {
    last = delta;
    for (const c of delta.outputs) {
      if (c.tokenIds.length > 0 && firstAt === null) firstAt = performance.now();
      texts[c.index] = (texts[c.index] ?? '') + c.text;
      tokenIds[c.index] = [...(tokenIds[c.index] ?? []), ...c.tokenIds];
      if (!o.json && single) process.stdout.write(c.text);
    }
  }
  const secs = (performance.now() - started) / 1000;
  const generated = tokenIds.reduce((s, t) => s + (t?.length ?? 0), 0);
  const decodeSecs = firstAt === null ? secs : (performance.now() - firstAt) / 1000;
  const tps = generated > 1 && decodeSecs > 0 ? (generated - 1) / decodeSecs : generated / secs;
  const finish = last?.outputs.map((c) => c.finishReason) ?? [];
  if (o.json) {
    printJson({
      model: o.model,
      prompt,
      promptTokenIds: last?.promptTokenIds ?? [],
      outputs: texts.map((text, i) => ({ index: i, text, tokenIds: tokenIds[i], finishReason: finish[i] ?? null })),
      usage: { promptTokens: last?.promptTokenIds.length ?? 0, completionTokens: generated },
      timeToFirstTokenMs: firstAt === null ? null : firstAt - started,
      tokensPerSecond: tps,
    });
    return;
  }
  if (single) process.stdout.write('\n');
  else texts.forEach((t, i) => console.log(`${pc.cyan(`[${i}]`)} ${pc.bold(prompt)}${t}`));
  const ttft = firstAt === null ? '-' : `${(firstAt - started).toFixed(0)} ms`;
  console.error(pc.dim(`${generated} tokens in ${secs.toFixed(2)}s · ${tps.toFixed(1)} tok/s · first token ${ttft} · finish ${finish.join(', ')}`));
}

async function runBatch(llm: LLM, prompts: PromptInput[], o: GenerateOpts): Promise<void> {
  const started = performance.now();
  const results = await llm.generate(prompts, samplingInit(o), { progress: !o.json });
  const secs = (performance.now() - started) / 1000;
  const outTokens = results.reduce((s, r) => s + r.outputs.reduce((a, c) => a + c.tokenIds.length, 0), 0);
  const inTokens = results.reduce((s, r) => s + r.promptTokenIds.length, 0);
  if (o.json) {
    printJson({
      model: o.model,
      results: results.map((r) => ({ prompt: r.prompt, promptTokenIds: r.promptTokenIds, outputs: r.outputs.map((c) => ({ index: c.index, text: c.text, tokenIds: c.tokenIds, finishReason: c.finishReason })) })),
      usage: { promptTokens: inTokens, completionTokens: outTokens },
      seconds: secs,
      outputTokensPerSecond: outTokens / secs,
    });
    return;
  }
  results.forEach((r, i) => {
    for (const c of r.outputs) console.log(`${pc.cyan(`[${i}${r.outputs.length > 1 ? `.${c.index}` : ''}]`)} ${pc.bold(r.prompt ?? `<${r.promptTokenIds.length} tokens>`)}${c.text}`);
  });
  const stats = llm.stats();
  console.error(
    kvTable([
      ['requests', results.length],
      ['prompt tokens', inTokens],
      ['output tokens', outTokens],
      ['time', `${secs.toFixed(2)} s`],
      ['output tok/s', (outTokens / secs).toFixed(1)],
      ['prefix cache hits', `${stats.prefixCacheHits} / ${stats.prefixCacheQueries}`],
      ['preemptions', stats.numPreemptions],
    ]),
  );
}

export function registerGenerate(program: Command): void {
  const cmd = program.command('generate').description('generate text (streams one prompt, or batches a prompts file)').argument('[prompt]', 'prompt text');
  addSamplingOptions(addEngineOptions(addCommonOptions(cmd)))
    .option('--prompts-file <file>', 'a file of prompts: one per line, or JSONL')
    .action(async (prompt: string | undefined, o: GenerateOpts) => {
      let llm: LLM | null = null;
      try {
        if (prompt === undefined && !o.promptsFile) throw new Error('give a prompt or --prompts-file FILE');
        const batch = o.promptsFile ? readPromptsFile(o.promptsFile) : null;
        if (batch && batch.length === 0) throw new Error(`${o.promptsFile} holds no prompts`);
        llm = await createEngine(o);
        if (batch) await runBatch(llm, prompt === undefined ? batch : [prompt, ...batch], o);
        else await streamOne(llm, prompt as string, o);
      } catch (err) {
        fail(err, o.json);
      } finally {
        llm?.close();
      }
    });
}
