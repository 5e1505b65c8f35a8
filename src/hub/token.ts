/**
 * The Hugging Face access token, looked up as huggingface_hub does: `$HF_TOKEN`, then the legacy
 * `$HUGGING_FACE_HUB_TOKEN`, then the file `hf auth login` writes (`$HF_TOKEN_PATH`, default
 * `<HF_HOME>/token`). Whitespace and line breaks are stripped; an empty value counts as none.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expandPath, hfHome } from './hf-cache.js';

export interface HubToken {
  readonly token: string;
  /** Where it came from, for error messages: an environment variable's name or the file's path. */
  readonly source: string;
}

export function hubToken(env: NodeJS.ProcessEnv = process.env): HubToken | null {
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) {
    const token = clean(env[name]);
    if (token !== null) return { token, source: name };
  }
  const file = tokenPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`Cannot read the Hugging Face token file ${file}: ${(e as Error).message}`);
  }
  const token = clean(text);
  return token === null ? null : { token, source: file };
}

/** `$HF_TOKEN_PATH`, else `<HF_HOME>/token`. */
export function tokenPath(env: NodeJS.ProcessEnv = process.env): string {
  return expandPath(env.HF_TOKEN_PATH || join(hfHome(env), 'token'), env);
}

function clean(v: string | undefined): string | null {
  return v?.replace(/[\r\n]/g, '').trim() || null;
}
