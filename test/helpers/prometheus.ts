/**
 * A strict Prometheus text-format reader that works the way routers' scrapers do (the Gateway API
 * Inference Extension's endpoint picker reads the exposition into metric families, then picks one
 * family by name and the sample whose labels match). Anything malformed throws.
 */

export type MetricType = 'gauge' | 'counter' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    const key = text.slice(i, eq);
    if (eq < 0 || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key) || text[eq + 1] !== '"') throw new Error(`bad label set {${text}}`);
    let j = eq + 2;
    let value = '';
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const e = text[++j];
        value += e === 'n' ? '\n' : e;
      } else value += text[j];
    }
    if (j >= text.length) throw new Error(`unterminated label value in {${text}}`);
    if (key in labels) throw new Error(`duplicate label ${key}`);
    labels[key] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return labels;
}

/** Which family a sample belongs to: histogram samples carry _bucket/_sum/_count suffixes. */
function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sample);
  if (direct) return direct;
  const m = /^(.*)_(bucket|sum|count)$/.exec(sample);
  const f = m ? families.get(m[1]!) : undefined;
  return f && (f.type === 'histogram' || f.type === 'summary') ? f : undefined;
}

export function parseFamilies(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name ${name}`);
      if (kind === 'HELP') help.set(name, rest);
      else {
        if (families.has(name)) throw new Error(`second TYPE line for ${name}`);
        if (!['gauge', 'counter', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type ${rest}`);
        families.set(name, { name, type: rest as MetricType, help: help.get(name) ?? '', samples: [] });
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`unparseable sample line: ${line}`);
    const family = familyOf(m[1]!, families);
    if (!family) throw new Error(`sample ${m[1]} has no TYPE line`);
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value in ${line}`);
    family.samples.push({ name: m[1]!, labels: parseLabels(m[2] ?? ''), value });
  }
  return families;
}

/**
 * The value a router reads: the one sample of family `name` (of type `type`) whose labels include
 * `match`. Zero or several matches are errors, as they would make a router's reading ambiguous.
 */
export function readValue(families: Map<string, Family>, name: string, type: MetricType, match: Record<string, string> = {}): number {
  const f = families.get(name);
  if (!f) throw new Error(`metric family ${name} is missing`);
  if (f.type !== type) throw new Error(`${name} is a ${f.type}, expected ${type}`);
  const hits = f.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  if (hits.length !== 1) throw new Error(`${name}${JSON.stringify(match)} matched ${hits.length} samples`);
  return hits[0]!.value;
}

/** A histogram's observation count for the series whose labels include `match`. */
export function histogramCount(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  const f = families.get(name);
  if (!f || f.type !== 'histogram') throw new Error(`histogram ${name} is missing`);
  const hits = f.samples.filter((s) => s.name === `${name}_count` && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  if (hits.length !== 1) throw new Error(`${name}_count${JSON.stringify(match)} matched ${hits.length} samples`);
  return hits[0]!.value;
}
