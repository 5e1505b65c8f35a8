/** Terminal presentation shared by every command: colour, tables, spinners, progress bars, errors. */
import pc from 'picocolors';
import Table from 'cli-table3';
import ora, { type Ora } from 'ora';
import cliProgress from 'cli-progress';

export { pc };

/** Interactive decorations only on a TTY and never in --json mode (stdout must stay parseable). */
export function interactive(json: boolean): boolean {
  return !json && process.stderr.isTTY === true && !process.env.CI;
}

/** A spinner on stderr; a no-op object when not interactive. */
export function spinner(text: string, json: boolean): Pick<Ora, 'succeed' | 'fail' | 'stop'> & { text: string } {
  if (!interactive(json)) {
    return { text, succeed: () => undefined as never, fail: () => undefined as never, stop: () => undefined as never };
  }
  return ora({ text, stream: process.stderr }).start();
}

/** A download/progress bar on stderr keyed by label; silent when not interactive. */
export class ProgressBars {
  private readonly multi: cliProgress.MultiBar | null;
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  constructor(json: boolean) {
    this.multi = interactive(json)
      ? new cliProgress.MultiBar(
          {
            format: `${pc.cyan('{bar}')} {percentage}% | {label} | {value_h}/{total_h}`,
            barCompleteChar: '█',
            barIncompleteChar: '░',
            hideCursor: true,
            stream: process.stderr,
            formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? formatBytes(v) : String(v)),
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  }

  update(label: string, done: number, total: number | null): void {
    if (!this.multi) return;
    let bar = this.bars.get(label);
    const t = total ?? Math.max(done, 1);
    if (!bar) {
      bar = this.multi.create(t, done, { label, value_h: formatBytes(done), total_h: formatBytes(t) });
      this.bars.set(label, bar);
    }
    bar.setTotal(t);
    bar.update(done, { label, value_h: formatBytes(done), total_h: formatBytes(t) });
  }

  stop(): void {
    this.multi?.stop();
  }
}

export function table(head: string[], rows: (string | number)[][], align?: ('left' | 'right')[]): string {
  const t = new Table({
    head: head.map((h) => pc.bold(pc.cyan(h))),
    style: { head: [], border: ['gray'] },
    colAligns: align,
  });
  for (const r of rows) t.push(r.map(String));
  return t.toString();
}

/** A two-column key/value table. */
export function kvTable(rows: [string, string | number][]): string {
  const t = new Table({ style: { head: [], border: ['gray'] } });
  for (const [k, v] of rows) t.push([pc.bold(k), String(v)]);
  return t.toString();
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** Makes whitespace and control characters in a token visible, e.g. for the tokenize table. */
export function visible(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** Prints one clear error line and exits non-zero. In --json mode the error is JSON on stdout too. */
export function fail(err: unknown, json: boolean): never {
  const message = err instanceof Error ? err.message : String(err);
  if (json) process.stdout.write(JSON.stringify({ error: { message } }) + '\n');
  process.stderr.write(`${pc.red(pc.bold('error:'))} ${message.split('\n')[0]}\n`);
  if (process.env.TINYVLLM_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  process.exit(1);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
