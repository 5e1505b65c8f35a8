import type { Command } from 'commander';
import type { DownloadOpts } from '../run/download.js';

export function registerDownload(program: Command): void {
  program
    .command('download')
    .description('fetch a model from the Hugging Face hub into the local cache (honours HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE)')
    .argument('<name>', 'hub name, e.g. gpt2 or openai-community/gpt2-medium')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--cache-dir <dir>', 'hub cache directory (default: $HF_HUB_CACHE or ~/.cache/huggingface/hub)')
    .option('--json', 'machine-readable JSON on stdout', false)
    .action(async (name: string, o: DownloadOpts) => (await import('../run/download.js')).download(name, o));
}
