#!/usr/bin/python3
"""Extract the King James Bible from Debian's `bible-kjv` package into train / held-out text.

    /usr/bin/python3 scripts/kjv_corpus.py [--out .tmp/kjv]

Installs `bible-kjv` with apt-get when the `bible` program is missing (needs root). Writes, in --out:
  train.txt    Genesis .. Hebrews, one verse per line (verse text only, no numbers)
  heldout.txt  James .. Revelation (the general epistles and Revelation), same format
The output is deterministic: same package, same bytes. Whitespace inside a verse is collapsed to
single spaces; the text is plain ASCII as the package ships it.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

# First held-out book: everything from here to Revelation 22:21 is held out (835 verses).
HELDOUT_FROM = 'James'
HEADER = re.compile(r'^((?:[123] )?[A-Z][A-Za-z ]*?) (\d+)$')
VERSE = re.compile(r'^\s+(\d+) (.*)$')


def ensure_bible() -> str:
    path = shutil.which('bible')
    if path is None:
        print('bible not found: apt-get install -y bible-kjv', file=sys.stderr)
        subprocess.run(['apt-get', 'install', '-y', 'bible-kjv'], check=True)
        path = shutil.which('bible')
        if path is None:
            sys.exit('bible-kjv installed but the `bible` program is still missing')
    return path


def read_verses(bible: str) -> list[tuple[str, int, int, str]]:
    """(book, chapter, verse, text) for every verse, in canonical order."""
    # -l with a huge width keeps each verse on one line (the default wraps at 80 columns).
    raw = subprocess.run([bible, '-l100000', 'Gen1:1-Rev22:21'], check=True,
                         capture_output=True, text=True, encoding='ascii').stdout
    verses = []
    book, chapter = None, None
    for line in raw.splitlines():
        if not line.strip():
            continue
        m = VERSE.match(line)
        if m:
            if book is None:
                raise ValueError(f'verse before any chapter header: {line!r}')
            text = ' '.join(m.group(2).split())
            verses.append((book, chapter, int(m.group(1)), text))
            continue
        m = HEADER.match(line)
        if not m:
            raise ValueError(f'unexpected line from bible: {line!r}')
        book, chapter = m.group(1), int(m.group(2))
    return verses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='.tmp/kjv')
    args = ap.parse_args()
    verses = read_verses(ensure_bible())
    if len(verses) != 31102:
        sys.exit(f'expected 31102 verses, got {len(verses)}')
    books = list(dict.fromkeys(b for b, _, _, _ in verses))
    if len(books) != 66 or HELDOUT_FROM not in books:
        sys.exit(f'unexpected book list ({len(books)} books): {books}')
    held = set(books[books.index(HELDOUT_FROM):])
    os.makedirs(args.out, exist_ok=True)
    splits = {'train': [], 'heldout': []}
    for book, _, _, text in verses:
        splits['heldout' if book in held else 'train'].append(text)
    for name, lines in splits.items():
        path = os.path.join(args.out, f'{name}.txt')
        with open(path, 'w', encoding='utf-8', newline='\n') as f:
            f.write('\n'.join(lines) + '\n')
        print(f'{path}: {len(lines)} verses, {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    main()
