/** `tinyvllm download`, loaded only when the command runs. */
import { downloadModel, hubOffline, hubRepoId } from '../../hub/hub.js';
import { ProgressBars } from '../progress.js';
import { fail, interactive, pc, printJson } from '../ui.js';

export interface DownloadOpts {
  revision: string;
  cacheDir?: string;
  json: boolean;
}

export async function download(name: string, o: DownloadOpts): Promise<void> {
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
}
