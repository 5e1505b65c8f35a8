/**
 * GPT-2's reversible map between bytes and printable unicode characters.
 *
 * Byte-level BPE works on bytes, but GPT-2's vocab.json and merges.txt store tokens as text. Bytes
 * that are already visible, non-space Latin-1 characters map to themselves; the remaining 68 bytes
 * (controls, space, 0x7F-0xA0, 0xAD) are shifted to U+0100 onwards, so that a space becomes "Ġ"
 * (U+0120) and a newline "Ċ" (U+010A). This mirrors `bytes_to_unicode` in GPT-2's encoder.py.
 */

function isPrintableLatin1(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

function buildByteToUnicode(): string[] {
  const out = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = String.fromCharCode(isPrintableLatin1(b) ? b : 256 + shifted++);
  }
  return out;
}

/** `BYTE_TO_UNICODE[b]` is the one-character string that stands for byte `b` in the vocabulary. */
export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();

/** Highest code point used by the map (U+0143), so the inverse fits in a small typed array. */
const MAX_CODE_POINT = 256 + 67;

function buildUnicodeToByte(): Int16Array {
  const out = new Int16Array(MAX_CODE_POINT + 1).fill(-1);
  for (let b = 0; b < 256; b++) out[BYTE_TO_UNICODE[b].charCodeAt(0)] = b;
  return out;
}

const UNICODE_TO_BYTE = buildUnicodeToByte();

/** The byte a vocabulary character stands for, or -1 if the character is not part of the map. */
export function unicodeToByte(charCode: number): number {
  return charCode <= MAX_CODE_POINT ? UNICODE_TO_BYTE[charCode] : -1;
}

/** Encodes raw bytes in the vocabulary's character form, e.g. the bytes of " world" -> "Ġworld". */
export function bytesToUnicode(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_UNICODE[bytes[i]];
  return s;
}

/**
 * The bytes a vocabulary string stands for, or null when some character is outside the map
 * (possible for added tokens, which are stored as plain text rather than in byte form).
 */
export function unicodeToBytes(token: string): Uint8Array | null {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = unicodeToByte(token.charCodeAt(i));
    if (b < 0) return null;
    out[i] = b;
  }
  return out;
}
