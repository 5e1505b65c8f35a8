/** Terminal presentation shared by every command: colour, tables, spinners, progress bars, errors. */
import pc from 'picocolors';
import Table from 'cli-table3';
import ora from 'ora';
import cliProgress from 'cli-progress';
import { formatMemorySize } from '../engine/memory-size.js';

export { pc };

/**
 * Spinners and progress bars only on a terminal with a known width, and never in --json mode (stdout
 * must stay parseable). Some pseudo-terminals (`script`, CI runners) report 0 columns: ora divides by
 * the width and then loops forever clearing lines, so such a terminal gets plain output.
 */
export function interactive(json: boolean): boolean {
  return !json && process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0 && !process.env.CI;
}

export interface Spinner {
  succeed(text: string): void;
  /** Clears the spinner line. */
  stop(): void;
}

/** A spinner on stderr; a no-op when not interactive, so callers need no checks. */
export function spinner(text: string, json: boolean): Spinner {
  if (!interactive(json)) return { succeed: () => {}, stop: () => {} };
  // No raw-mode stdin and no cursor hiding: both install signal handlers (ora's stdin discarder turns
  // Ctrl-C into a byte read only when the event loop is free; restore-cursor listens for SIGINT), so
  // Ctrl-C would wait for a blocking load to end. Without them the default SIGINT action ends the
  // process at once, in every state, and there is never a hidden cursor to restore.
  const s = ora({ text, stream: process.stderr, discardStdin: false, hideCursor: false }).start();
  return { succeed: (t) => void s.succeed(t), stop: () => void s.stop() };
}

/** Download progress bars on stderr, one per file; silent when not interactive. */
export class ProgressBars {
  private multi: cliProgress.MultiBar | null = null;
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  constructor(private readonly json: boolean) {}

  update(label: string, done: number, total: number | null): void {
    if (!interactive(this.json)) return;
    // Created on the first update: a MultiBar that never drew anything still prints a newline on stop.
    this.multi ??= new cliProgress.MultiBar(
      // hideCursor off: Ctrl-C (default SIGINT action, see `spinner`) must not leave the cursor hidden.
      { format: `${pc.cyan('{bar}')} {percentage}% | {label} | {done}/{size}`, hideCursor: false, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    const t = total ?? Math.max(done, 1);
    const payload = { label, done: formatMemorySize(done), size: total === null ? '?' : formatMemorySize(t) };
    const bar = this.bars.get(label);
    if (!bar) {
      this.bars.set(label, this.multi.create(t, done, payload));
      return;
    }
    bar.setTotal(t);
    bar.update(done, payload);
  }

  stop(): void {
    this.multi?.stop();
    this.multi = null;
  }
}

/** No borders: columns separated by two spaces, so output stays easy to read, grep and cut. */
const PLAIN = Object.fromEntries(
  ['top', 'top-mid', 'top-left', 'top-right', 'bottom', 'bottom-mid', 'bottom-left', 'bottom-right', 'left', 'left-mid', 'mid', 'mid-mid', 'right', 'right-mid'].map((k) => [k, '']),
);

function render(head: string[] | undefined, rows: (string | number)[][], align?: ('left' | 'right')[]): string {
  const t = new Table({
    ...(head ? { head: head.map((h) => pc.bold(pc.cyan(h))) } : {}),
    chars: { ...PLAIN, middle: '  ' },
    // cli-table3 colours by its own rules (even into a pipe): leave all colour to picocolors.
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    colAligns: align ?? [],
  });
  for (const r of rows) t.push(r.map(String));
  return t
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

export function table(head: string[], rows: (string | number)[][], align?: ('left' | 'right')[]): string {
  return render(head, rows, align);
}

/** Key/value lines with the keys aligned. */
export function kvTable(rows: [string, string | number][]): string {
  return render(undefined, rows.map(([k, v]) => [pc.dim(k), v]));
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** A token's text quoted, with whitespace and control characters escaped, so " world" shows its space. */
export function quoted(s: string): string {
  return JSON.stringify(s);
}

/** Formats any error as one line, e.g. for `fail` and commander's parse errors. */
export function oneLine(message: string): string {
  return message.replace(/^error:\s*/i, '').replace(/\s*\n\s*/g, ' ').trim();
}

/** Prints one clear error line on stderr (and a JSON error on stdout in --json mode), then exits 1. */
export function fail(err: unknown, json: boolean): never {
  const message = oneLine(err instanceof Error ? err.message : String(err));
  if (json) process.stdout.write(JSON.stringify({ error: { message } }) + '\n');
  process.stderr.write(`${pc.red(pc.bold('error:'))} ${message}\n`);
  if (process.env.TINYVLLM_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  process.exit(1);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
