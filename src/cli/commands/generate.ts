import type { Command } from 'commander';
import { addCommonOptions, addQuantizationOptions, addEngineOptions, addSamplingOptions } from '../options.js';
import type { GenerateOpts } from '../run/generate.js';

export function registerGenerate(program: Command): void {
  const cmd = program.command('generate').description('generate text: streams one prompt, or runs a prompts file as one batch').argument('[prompt]', 'prompt text');
  addSamplingOptions(addEngineOptions(addQuantizationOptions(addCommonOptions(cmd))))
    .option('--prompts-file <file>', 'prompts to run as one batch: one per line, or JSONL ("text" or {"prompt"} or {"prompt_token_ids"})')
    .action(async (prompt: string | undefined, o: GenerateOpts) => (await import('../run/generate.js')).generate(prompt, o));
}
