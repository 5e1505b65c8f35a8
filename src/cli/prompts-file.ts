/** `generate --prompts-file`: plain text with one prompt per line, or JSONL. */
import { readFileSync } from 'node:fs';
import type { PromptInput } from '../engine/engine-client.js';

/**
 * A `.jsonl` file, or one whose first line starts with `{`, is JSONL: each line is a JSON string or
 * an object with `prompt` (text) or `prompt_token_ids`. Anything else is one prompt per line.
 * Blank lines are skipped in both formats.
 */
export function readPromptsFile(path: string): PromptInput[] {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `prompts file not found: ${path}` : `cannot read prompts file ${path}: ${(err as Error).message}`);
  }
  const lines = raw.split(/\r?\n/).map((text, i) => ({ text, lineNo: i + 1 })).filter((l) => l.text.trim() !== '');
  if (lines.length === 0) throw new Error(`prompts file ${path} holds no prompts`);
  const jsonl = path.endsWith('.jsonl') || lines[0].text.trimStart().startsWith('{');
  return jsonl ? lines.map((l) => parseLine(l.text, `${path}:${l.lineNo}`)) : lines.map((l) => l.text);
}

function parseLine(line: string, where: string): PromptInput {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (typeof o.prompt === 'string') return o.prompt;
    const ids = o.prompt_token_ids;
    if (Array.isArray(ids) && ids.length > 0 && ids.every((t) => Number.isSafeInteger(t) && (t as number) >= 0)) return { promptTokenIds: ids as number[] };
    if (ids !== undefined) throw new Error(`${where}: "prompt_token_ids" must be a non-empty array of token ids`);
  }
  throw new Error(`${where}: expected a JSON string or an object with "prompt" or "prompt_token_ids"`);
}
