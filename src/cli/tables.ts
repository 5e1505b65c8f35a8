/** Borderless tables for terminal output. */
import Table from 'cli-table3';
import { pc } from './ui.js';

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
