#!/usr/bin/python3
"""Train a byte-level BPE (GPT-2 style) on a text file; write GPT-2-format vocab.json + merges.txt.

    /usr/bin/python3 scripts/train_bpe.py [--input .tmp/kjv/train.txt] [--vocab-size 4096] [--out DIR]

Same scheme as GPT-2: the text is split with GPT-2's pre-tokenisation pattern, words are bytes
mapped through GPT-2's byte-to-unicode table, merges never cross a word boundary. Ids 0..255 are
the 256 bytes (in GPT-2's order), then one id per merge in rank order, and the last id is
`<|endoftext|>`, so vocab-size = 256 + merges + 1. Each step merges the most frequent adjacent pair;
ties go to the lexicographically smallest pair, so the result is deterministic. Pair counts are
updated incrementally over the unique words, which makes 4k merges on the KJV take seconds.
Standard library only.
"""
import argparse
import collections
import json
import os
import re

# GPT-2's pattern ('s|'t|...| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+) spelled for ASCII
# text: Python's `re` has no \p{..}. main() refuses non-ASCII input, where the two would differ.
PRETOKENIZE = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
ENDOFTEXT = '<|endoftext|>'


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (encoder.py), in GPT-2's id order."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def train(text: str, vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    b2u = bytes_to_unicode()
    word_counts = collections.Counter(PRETOKENIZE.findall(text))
    words = [[b2u[b] for b in w.encode('utf-8')] for w in word_counts]
    freqs = list(word_counts.values())
    pair_counts: collections.Counter = collections.Counter()
    pair_words: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
    for i, symbols in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] += freqs[i]
            pair_words[pair].add(i)
    vocab = {u: i for i, u in enumerate(b2u.values())}
    merges: list[tuple[str, str]] = []
    n_merges = vocab_size - 256 - 1
    while len(merges) < n_merges and pair_counts:
        best = max(pair_counts.items(), key=lambda kv: (kv[1], _neg(kv[0])))[0]
        if pair_counts[best] < 2:
            break
        merges.append(best)
        merged = best[0] + best[1]
        vocab[merged] = len(vocab)
        for i in list(pair_words[best]):
            symbols, f = words[i], freqs[i]
            for pair in zip(symbols, symbols[1:]):
                pair_counts[pair] -= f
            out, j = [], 0
            while j < len(symbols):
                if j + 1 < len(symbols) and symbols[j] == best[0] and symbols[j + 1] == best[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(symbols[j])
                    j += 1
            words[i] = out
            for pair in zip(out, out[1:]):
                pair_counts[pair] += f
                pair_words[pair].add(i)
        for pair in [p for p, c in pair_counts.items() if c <= 0]:
            del pair_counts[pair]
            pair_words.pop(pair, None)
    vocab[ENDOFTEXT] = len(vocab)
    return vocab, merges


class _neg:
    """Orders pairs in reverse, so max() picks the lexicographically smallest among equal counts."""

    def __init__(self, pair: tuple[str, str]) -> None:
        self.pair = pair

    def __lt__(self, other: '_neg') -> bool:
        return self.pair > other.pair

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _neg) and self.pair == other.pair


def write(vocab: dict[str, int], merges: list[tuple[str, str]], out: str) -> None:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump(vocab, f, ensure_ascii=False, separators=(',', ':'))
    with open(os.path.join(out, 'merges.txt'), 'w', encoding='utf-8', newline='\n') as f:
        f.write('#version: 0.2\n')
        for left, right in merges:
            f.write(f'{left} {right}\n')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--input', default='.tmp/kjv/train.txt')
    ap.add_argument('--vocab-size', type=int, default=4096)
    ap.add_argument('--out', default='.tmp/kjv/tokenizer')
    args = ap.parse_args()
    with open(args.input, encoding='utf-8') as f:
        text = f.read()
    if not text.isascii():
        raise SystemExit(f'{args.input}: non-ASCII text; the ASCII pre-tokenisation pattern would differ from GPT-2')
    vocab, merges = train(text, args.vocab_size)
    write(vocab, merges, args.out)
    print(f'{args.out}: {len(vocab)} tokens ({len(merges)} merges)')


if __name__ == '__main__':
    main()
