/**
 * Terminal presentation shared by every command: colour, errors, JSON. Kept light (`--help` loads
 * it): tables live in tables.ts, spinners and progress bars in progress.ts.
 */
import pc from 'picocolors';

export { pc };

/**
 * Spinners and progress bars only on a terminal with a known width, and never in --json mode (stdout
 * must stay parseable). Some pseudo-terminals (`script`, CI runners) report 0 columns: ora divides by
 * the width and then loops forever clearing lines, so such a terminal gets plain output.
 */
export function interactive(json: boolean): boolean {
  return !json && process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0 && !process.env.CI;
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
