/**
 * The CLI on a real pseudo-terminal (util-linux `script`), as a user at a keyboard sees it: spinners
 * on a terminal that reports 0 columns (some CI runners, `script` itself), and Ctrl-C typed into the
 * terminal while a command is busy.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureModelDir } from '../helpers/fixtures.js';
import { CLI_ARGV, ROOT } from './run-cli.js';

/** A command that has not ended this long after it should have is stuck (the bug this file guards). */
const STUCK_MS = 30_000;

interface TtyRun {
  code: number | null;
  /** Everything the terminal showed (stdout and stderr together). */
  screen: string;
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `tinyvllm ARGS` on a pseudo-terminal of the given width. `typeCtrlC`, when given, types
 * Ctrl-C into the terminal as soon as the screen matches it. A run still going after STUCK_MS is
 * killed and reported with code null.
 */
function runOnTerminal(args: readonly string[], cols: number, typeCtrlC?: RegExp): Promise<TtyRun> {
  const cmd = `stty cols ${cols} rows 24 && exec ${[...CLI_ARGV, ...args].map(sh).join(' ')}`;
  // The spinner is off under CI=...: unset it so this test exercises the interactive path everywhere.
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', HF_HUB_OFFLINE: '1', TERM: 'xterm' };
  delete env.CI;
  delete env.FORCE_COLOR;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let typed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), STUCK_MS);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      screen += d;
      if (typeCtrlC && !typed && typeCtrlC.test(screen)) {
        typed = true;
        child.stdin.write('\x03');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (screen += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

let model: string;
let dir: string;

beforeAll(() => {
  model = fixtureModelDir('tiny-gpt2-a');
  // A model whose weights file is a FIFO nobody writes: loading blocks in a synchronous read, the
  // hardest state to interrupt (the event loop cannot run).
  dir = mkdtempSync(join(tmpdir(), 'tinyvllm-tty-'));
  for (const f of ['config.json', 'vocab.json', 'merges.txt']) copyFileSync(join(model, f), join(dir, f));
  const mk = spawn('mkfifo', [join(dir, 'model.safetensors')]);
  return new Promise<void>((resolve, reject) => mk.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`mkfifo exited ${c}`)))));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a terminal that reports 0 columns', () => {
  it('info finishes and prints its table (no spinner drawn)', async () => {
    const r = await runOnTerminal(['info', '--model', model], 0);
    expect(r.code, JSON.stringify(r.screen.slice(-300))).toBe(0);
    expect(r.screen).toMatch(/parameters\s+\S/);
    expect(r.screen).not.toContain('Loading');
  });

  it('serve starts, and Ctrl-C stops it', async () => {
    const r = await runOnTerminal(['serve', model, '--port', '0', '--grace-period', '1'], 0, /listening\s+http/);
    expect(r.screen).toMatch(/listening\s+http/);
    expect(r.screen).toContain('SIGINT received');
    expect(r.code, JSON.stringify(r.screen.slice(-300))).toBe(0);
  });
});

describe('Ctrl-C while a spinner runs', () => {
  it('ends a command blocked loading weights at once', async () => {
    const r = await runOnTerminal(['info', '--model', dir], 80, /Loading/);
    // The spinner was drawn, then the default SIGINT action ended the process (128 + 2).
    expect(r.screen).toContain('Loading');
    expect(r.code, JSON.stringify(r.screen.slice(-300))).toBe(130);
  });
});
