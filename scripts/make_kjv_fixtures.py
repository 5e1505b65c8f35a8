#!/usr/bin/python3
"""PyTorch oracle for the shipped kjv-mini model: test/fixtures/kjv-mini/.

    /usr/bin/python3 scripts/make_kjv_fixtures.py [--model models/kjv-mini] [--heldout .tmp/kjv/heldout.txt]

Reads the bf16 weights of models/kjv-mini (exact in float64), runs make_fixtures.py's independent
float64 GPT-2 forward pass and writes, in the format of test/fixtures/README.md:
  reference.json   prompts (tokens, sampled/top-5 logits per position, 32-step greedy continuation),
                   plus `heldout`: float64 next-token loss of the model and of an add-one unigram
                   baseline on the first windows and on the whole held-out split
  last-logits.f32  all logits of each prompt's last position
  heldout.txt      the held-out split (James to Revelation) that the tests read
The unigram baseline is fitted on the train split's tokens, so the train split must exist
(scripts/kjv_corpus.py writes it). Like train_demo.py, it runs itself with OpenBLAS.
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402  (the float64 forward pass)
from train_demo import Encoder, use_openblas  # noqa: E402

ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, 'test', 'fixtures', 'kjv-mini')
ENDOFTEXT = '<|endoftext|>'
# Windows of the held-out token stream whose loss the engine tests recompute (the card uses all).
TEST_WINDOWS = 2

# (name, text). Held-out prompts are verse prefixes from James..Revelation, never trained on.
PROMPTS = [
    ('genesis', 'In the beginning God created'),
    ('single-token', 'And'),
    ('eos-prefixed', ENDOFTEXT + 'And God said'),
    ('heldout-humble', 'Humble yourselves in the sight'),
    ('heldout-revelation', 'I am Alpha and Omega, the beginning and the ending, saith the Lord, which is, and which was,'),
]


def read_safetensors(path: str) -> dict[str, torch.Tensor]:
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == '__metadata__':
            continue
        if h['dtype'] != 'BF16':
            sys.exit(f'{path}: {name} is {h["dtype"]}, expected BF16')
        a, b = h['data_offsets']
        bits = np.frombuffer(data[a:b], dtype='<u2').astype(np.uint32) << 16
        out[name] = torch.from_numpy(bits.view(np.float32).astype(np.float64).reshape(h['shape']))
    return out


def encode(enc: Encoder, text: str) -> list[int]:
    ids: list[int] = []
    for i, part in enumerate(text.split(ENDOFTEXT)):
        if i > 0:
            ids.append(enc.vocab[ENDOFTEXT])
        ids += enc.encode(part)
    return ids


def window_loss(w, spec, tokens: list[int]) -> tuple[float, int, int]:
    """Summed next-token NLL (nats) of one window, the number of predicted tokens, and how many of
    them are the top-1 prediction."""
    logits = mf.hidden_states(w, spec, tokens) @ w['wte.weight'].T
    logp = torch.log_softmax(logits[:-1], dim=-1)
    target = torch.tensor(tokens[1:])
    nll = -logp[torch.arange(len(tokens) - 1), target].sum().item()
    return nll, len(tokens) - 1, int((logits[:-1].argmax(-1) == target).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default=os.path.join(ROOT, 'models', 'kjv-mini'))
    ap.add_argument('--heldout', default=os.path.join(ROOT, '.tmp', 'kjv', 'heldout.txt'))
    ap.add_argument('--train', default=os.path.join(ROOT, '.tmp', 'kjv', 'train.txt'))
    ap.add_argument('--out', default=OUT)
    args = ap.parse_args()
    use_openblas(1)  # the reference BLAS would take many minutes for the held-out loss
    torch.set_num_threads(1)
    with open(os.path.join(args.model, 'config.json')) as f:
        cfg = json.load(f)
    spec = {'nLayer': cfg['n_layer'], 'nHead': cfg['n_head'], 'nEmbd': cfg['n_embd'],
            'nPositions': cfg['n_positions'], 'vocabSize': cfg['vocab_size']}
    V = spec['vocabSize']
    w = read_safetensors(os.path.join(args.model, 'model.safetensors'))
    enc = Encoder(args.model)
    mf.EPS = cfg['layer_norm_epsilon']

    rng = np.random.default_rng(20261202)
    sampled = np.sort(np.concatenate([[0, V - 1], rng.choice(np.arange(1, V - 1), 254, replace=False)]))
    prompts, last_rows = [], []
    for idx, (name, text) in enumerate(PROMPTS):
        tokens = encode(enc, text)
        logits = (mf.hidden_states(w, spec, tokens) @ w['wte.weight'].T).numpy()
        gtok, gaps = mf.greedy(w, spec, tokens)
        tops = [mf.top_k(row, 5) for row in logits]
        low = min(gaps + [row[t[0]] - row[t[1]] for row, t in zip(logits, tops)])
        if low < mf.MIN_GAP:
            sys.exit(f'{name}: top1-top2 gap {low:.2e} < {mf.MIN_GAP}; choose another prompt')
        prompts.append({
            'name': name, 'text': text, 'tokens': tokens, 'lastLogitsIndex': idx,
            'sampledLogits': [[mf.r6(v) for v in row[sampled]] for row in logits],
            'top5': [[int(i) for i in t] for t in tops],
            'top5Logits': [[mf.r6(row[i]) for i in t] for row, t in zip(logits, tops)],
            'greedy': {'tokens': gtok, 'gaps': [mf.r6(g) for g in gaps]},
        })
        last_rows.append(logits[-1])
        cont = ''.join(enc_decode(enc, gtok))
        print(f'{name}: T={len(tokens)} min gap {low:.4f}\n  {text!r} -> {cont!r}')

    with open(args.heldout, encoding='utf-8') as f:
        held_text = f.read()
    held = enc.encode(held_text)
    P = spec['nPositions']
    wins = [held[i:i + P] for i in range(0, len(held) - P + 1, P)]
    with open(args.train, encoding='utf-8') as f:
        counts = np.bincount(enc.encode(f.read()), minlength=V).astype(np.float64) + 1.0
    uni_logp = np.log(counts / counts.sum())
    sums = [window_loss(w, spec, win) for win in wins]
    part_nll, part_n, part_hit = map(sum, zip(*sums[:TEST_WINDOWS]))
    all_nll, all_n, _ = map(sum, zip(*sums))
    top_uni = int(np.argmax(uni_logp))  # what a unigram model always predicts
    uni = lambda ws: float(-np.mean([uni_logp[t] for win in ws for t in win[1:]]))  # noqa: E731
    heldout = {
        'file': 'heldout.txt', 'numTokens': len(held),
        'tokensSha256': hashlib.sha256(np.asarray(held, dtype='<i4').tobytes()).hexdigest(),
        'windowTokens': P, 'testWindows': TEST_WINDOWS,
        'testLoss': round(part_nll / part_n, 6), 'testUnigramLoss': round(uni(wins[:TEST_WINDOWS]), 6),
        'testTop1': part_hit, 'testUnigramTop1': sum(t == top_uni for win in wins[:TEST_WINDOWS] for t in win[1:]),
        'windows': len(wins), 'loss': round(all_nll / all_n, 6), 'unigramLoss': round(uni(wins), 6),
    }
    print(json.dumps(heldout))
    ref = {
        'format': 1, 'name': 'kjv-mini', 'spec': spec, 'sampledIds': [int(i) for i in sampled],
        'lastLogits': {'file': 'last-logits.f32', 'dtype': 'f32', 'shape': [len(PROMPTS), V]},
        'greedySteps': mf.GREEDY_STEPS, 'prompts': prompts, 'heldout': heldout,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'reference.json'), 'w') as f:
        json.dump(ref, f, separators=(',', ':'))
        f.write('\n')
    np.stack(last_rows).astype('<f4').tofile(os.path.join(args.out, 'last-logits.f32'))
    shutil.copyfile(args.heldout, os.path.join(args.out, 'heldout.txt'))


def enc_decode(enc: Encoder, ids: list[int]) -> str:
    inv = {v: k for k, v in enc.vocab.items()}
    u2b = {u: b for b, u in enc.b2u.items()}
    return bytes(u2b[c] for i in ids for c in inv[i] if c in u2b).decode('utf-8', 'replace') if ids else ''


if __name__ == '__main__':
    main()
