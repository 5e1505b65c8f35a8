/**
 * Hugging Face normalizers (tokenizer.json `normalizer`), applied to text between added tokens
 * before pre-tokenisation. Supported: Unicode forms (Qwen uses NFC), `Lowercase`, `Sequence`.
 */
import { isObject, type Json } from './json.js';

export type Normalizer = (text: string) => string;

const FORMS = new Set(['NFC', 'NFD', 'NFKC', 'NFKD']);

/** The normalizer described by `json`, or null when there is none. */
export function buildNormalizer(json: Json | undefined, where: string): Normalizer | null {
  if (json === null || json === undefined) return null;
  if (!isObject(json)) throw new Error(`${where}: must be an object`);
  const type = json.type;
  if (typeof type === 'string' && FORMS.has(type)) return (s) => s.normalize(type as 'NFC');
  if (type === 'Lowercase') return (s) => s.toLowerCase();
  if (type === 'Sequence') {
    if (!Array.isArray(json.normalizers)) throw new Error(`${where}: Sequence needs a "normalizers" array`);
    const steps = json.normalizers.map((n, i) => buildNormalizer(n, `${where}.normalizers[${i}]`)).filter((n) => n !== null);
    return (s) => steps.reduce((acc, f) => f(acc), s);
  }
  throw new Error(`${where}: normalizer type ${JSON.stringify(type)} is not supported (NFC, NFD, NFKC, NFKD, Lowercase, Sequence are)`);
}
