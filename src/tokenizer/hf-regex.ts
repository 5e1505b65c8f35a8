/**
 * Hugging Face tokenizers compile `Split` patterns with Oniguruma; this turns such a pattern into an
 * equivalent JavaScript RegExp (`u` flag). Node 20 has no inline `(?i:...)` modifier groups, and the
 * two engines disagree on `\s`, so those are rewritten; everything else the known patterns use
 * (`\p{L}`, `\p{N}`, `(?!...)`, `{1,3}`, classes) means the same in both.
 *
 * - `\s` is Oniguruma's Unicode whitespace: JavaScript's `\s` without U+FEFF, plus U+0085 (checked
 *   against the Rust library code point by code point).
 * - Inside `(?i:...)` an ASCII letter becomes a class of its case variants, including Oniguruma's
 *   case folds `ſ` (U+017F) ~ `s` and `K` (U+212A) ~ `k`: Llama 3's `(?i:'s|...)` matches "'ſ".
 * - Constructs JavaScript lacks (atomic groups, possessive quantifiers, global inline flags) are
 *   rejected with an error instead of being silently misread.
 */

/** Oniguruma's `\s` as the inside of a character class. */
export const ONIG_SPACE_CLASS = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** Extra case-insensitive matches beyond lower/upper ASCII (Unicode simple case folding). */
const EXTRA_FOLDS: Readonly<Record<string, string>> = { s: '\u017f', k: '\u212a' };

/** Characters that need a backslash in a JavaScript `u`-mode pattern (outside / inside a class). */
const SYNTAX = new Set([...'^$\\.*+?()[]{}|/']);
const CLASS_SYNTAX = new Set([...'^\\]-[']);

function caseVariants(ch: string): string {
  const lower = ch.toLowerCase();
  return lower + ch.toUpperCase() + (EXTRA_FOLDS[lower] ?? '');
}

/** Translates an Oniguruma pattern from tokenizer.json; `where` names it in error messages. */
export function translateOnigPattern(pattern: string, where: string): string {
  const fail = (what: string): never => {
    throw new Error(`${where}: unsupported regex construct ${what} in ${JSON.stringify(pattern)}`);
  };
  let out = '';
  let inClass = false;
  // One entry per open group: whether the group is case-insensitive.
  const groups: boolean[] = [];
  const ignoreCase = (): boolean => groups.length > 0 && groups[groups.length - 1];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '\\') {
      const e = chars[++i];
      if (e === undefined) fail('(trailing backslash)');
      if (e === 's') out += inClass ? ONIG_SPACE_CLASS : `[${ONIG_SPACE_CLASS}]`;
      else if (e === 'S') out += inClass ? fail('\\S inside a class') : `[^${ONIG_SPACE_CLASS}]`;
      else if (e === 'd') out += '\\p{Nd}';
      else if (e === 'D') out += inClass ? fail('\\D inside a class') : '\\P{Nd}';
      else if (e === 'p' || e === 'P') {
        const close = chars.indexOf('}', i);
        if (chars[i + 1] !== '{' || close < 0) fail(`\\${e} without {...}`);
        out += `\\${e}${chars.slice(i + 1, close + 1).join('')}`;
        i = close;
      } else if (/[A-Za-z0-9]/.test(e)) {
        // \t \n \r \f \v \x.. \u.... \b \B \w \W and back-references mean the same in JavaScript.
        if (!/[tnrfvxubBwW0-9]/.test(e)) fail(`\\${e}`);
        out += `\\${e}`;
      } else {
        // An escaped symbol is that symbol; `u` mode rejects needless escapes such as \' or \#.
        out += (inClass ? CLASS_SYNTAX : SYNTAX).has(e) ? `\\${e}` : e;
      }
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '[') fail('(nested class)');
      out += ignoreCase() && /[A-Za-z]/.test(c) ? caseVariants(c) : c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (chars[i + 1] === '^') out += chars[++i];
      // A leading ']' is a literal in Oniguruma.
      if (chars[i + 1] === ']') {
        out += '\\]';
        i++;
      }
    } else if (c === '(') {
      if (chars[i + 1] !== '?') {
        groups.push(ignoreCase());
        out += c;
        continue;
      }
      const rest = chars.slice(i + 2, i + 5).join('');
      if (rest.startsWith('i:')) {
        groups.push(true);
        out += '(?:';
        i += 3;
      } else if (rest.startsWith('-i:')) {
        groups.push(false);
        out += '(?:';
        i += 4;
      } else if (/^(:|=|!|<=|<!|<[A-Za-z])/.test(rest)) {
        groups.push(ignoreCase());
        out += c;
      } else {
        fail(`(?${rest}`);
      }
    } else if (c === ')') {
      groups.pop();
      out += c;
    } else if ((c === '+' || c === '*' || c === '?' || c === '}') && chars[i + 1] === '+') {
      fail(`${c}+ (possessive quantifier)`);
    } else if (ignoreCase() && /[A-Za-z]/.test(c)) {
      out += `[${caseVariants(c)}]`;
    } else {
      out += c;
    }
  }
  if (inClass) fail('(unterminated class)');
  try {
    new RegExp(out, 'gu');
  } catch (e) {
    fail(`(${(e as Error).message})`);
  }
  return out;
}

/** Escapes a literal string for use in a RegExp. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
