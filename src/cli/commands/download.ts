import type { Command } from 'commander';
import { downloadModel, hubOffline, hubRepoId } from '../../hub/hub.js';
import { fail, interactive, pc, printJson, ProgressBars } from '../ui.js';

interface DownloadOpts {
  revision: string;
  cacheDir?: string;
  json: boolean;
}

export function registerDownload(program: Command): void {
  program
    .command('download')
    .description('fetch a model from the Hugging Face hub into the local cache (honours HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE)')
    .argument('<name>', 'hub name, e.g. gpt2 or openai-community/gpt2-medium')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--cache-dir <dir>', 'hub cache directory (default: $HF_HUB_CACHE or ~/.cache/huggingface/hub)')
    .option('--json', 'machine-readable JSON on stdout', false)
    .action(async (name: string, o: DownloadOpts) => {
      const bars = new ProgressBars(o.json);
      try {
        if (hubOffline()) throw new Error('HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set, so nothing may be downloaded: unset it to fetch models');
        const repo = hubRepoId(name);
        if (interactive(o.json)) console.error(`Downloading ${pc.bold(repo)} ${pc.dim(`(${o.revision})`)}`);
        const dir = await downloadModel(repo, { revision: o.revision, cacheDir: o.cacheDir, onProgress: (e) => bars.update(e.file, e.downloaded, e.total) });
        bars.stop();
        if (o.json) printJson({ model: name, repo, revision: o.revision, dir });
        else console.log(`${pc.green('✔')} ${repo} → ${dir}`);
      } catch (err) {
        bars.stop();
        fail(err, o.json);
      }
    });
}
