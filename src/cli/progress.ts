/** Spinners and download progress bars on stderr; both are no-ops when not interactive. */
import ora from 'ora';
import cliProgress from 'cli-progress';
import { formatMemorySize } from '../engine/memory-size.js';
import { interactive, pc } from './ui.js';

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
