#!/usr/bin/env python3
"""PyTorch oracle for the tiny GPT-2 test fixtures.

Builds two small GPT-2-shaped models with the real 50257-token vocabulary, runs an independent
float64 GPT-2 forward pass written from the formulas, and writes the reference outputs that the
TypeScript engine is tested against. Only the outputs (and per-tensor hashes) are committed; the
weights themselves are regenerated at test time by src/bench/synthetic.ts from the same scheme.

Weight scheme (identical in src/bench/synthetic.ts — change both or neither)
---------------------------------------------------------------------------
For tensor `name` (canonical GPT-2 name, e.g. `h.0.attn.c_attn.weight`), model `seed` and flat
row-major element index `i`, all arithmetic on uint32 with wrap-around:

    fnv1a32(s)  = FNV-1a over the UTF-8 bytes of s (offset 0x811C9DC5, prime 0x01000193)
    fmix32(h)   = murmur3 finaliser: h ^= h >> 16; h *= 0x85EBCA6B; h ^= h >> 13;
                                     h *= 0xC2B2AE35; h ^= h >> 16
    key         = fmix32(fnv1a32(name) ^ fmix32(seed))
    q           = fmix32((i * 0x9E3779B1) ^ key)
    m           = q & (2^bits - 1)                    magnitude
    value       = offset + (q >> 31 ? -m : m) * 2^-s  the top bit is the sign

so values are symmetric integers of at most 7 bits times a power of two: exact in f32, bf16 and
f16 (no f16 subnormals while s <= 14; s is clamped there, no overflow). Per tensor:

    tensor                                   bits  s                    offset
    wte.weight                               7     9   (|w| <= 0.248)   0
    wpe.weight                               7     10  (|w| <= 0.124)   0
    ln_1/ln_2/ln_f .weight (gamma)           4     7   (1 +- 15/128)    1
    every .bias (LayerNorm beta included)    7     11  (|b| <= 0.062)   0
    attn.c_attn.weight, mlp.c_fc.weight      7     6 + half(fan_in)     0
    attn.c_proj.weight, mlp.c_proj.weight    7     7 + half(fan_in)     0

Llama-family tensors (Hugging Face names, nn.Linear [out, in], fan_in = columns) follow the same
pattern: embed_tokens / lm_head as wte; every *norm.weight as a LayerNorm gamma; q/k/v/gate/up_proj
as c_attn; o_proj / down_proj as c_proj; biases as above. See scripts/make_llama_fixtures.py.

with fan_in = rows of the Conv1D weight ([in, out]) and half(n) = floor(bit_length(n) / 2), so
2^half(n) ~ sqrt(n): input projections keep unit-scale activations (attention scores have a real
spread), output projections add about half that to the residual stream, and wte gives logits with a
standard deviation of ~1.1 (model A) to ~1.4 (model B).

Usage: /usr/bin/python3 scripts/make_fixtures.py [--write-checkpoints DIR]
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import struct
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'test', 'fixtures')
VOCAB = 50257
EOS = 50256
EPS = 1e-5
GREEDY_STEPS = 32
MIN_GAP = 1e-3
NUM_SAMPLED_IDS = 256

MODELS = {
    'tiny-gpt2-a': dict(nLayer=2, nHead=2, nEmbd=64, nPositions=256, vocabSize=VOCAB, seed=2),
    'tiny-gpt2-b': dict(nLayer=3, nHead=3, nEmbd=96, nPositions=320, vocabSize=VOCAB, seed=4),
}

# Token ids are GPT-2 BPE encodings of `text` (special tokens allowed); the tests re-encode the
# text with js-tiktoken to prove the pairs match.
LIBRARY = (
    'The library on the hill had been closed for nearly forty years when the town council finally '
    'voted to open it again. Nobody quite remembered why it had shut in the first place. Some said '
    'the roof had leaked so badly that the reading room flooded every spring; others insisted that '
    'the last librarian had simply locked the doors one evening, walked down to the station, and '
    'taken the night train to the coast without telling anyone. Whatever the reason, the building '
    'had waited patiently, its tall windows clouded with dust and its shelves still full of books '
    'that no one had touched since 1984.\n\nWhen the volunteers arrived on the first Saturday of '
    'March, they found the card catalogue intact, every drawer labelled in neat blue ink. A calendar '
    'on the front desk still showed the month of October. In the children\'s corner, a small wooden '
    'chair had been pushed back from a table, as if someone had just stood up to fetch another '
    'story. The volunteers worked through the spring')
PROMPTS = [
    ('hello-world', 'Hello world', [15496, 995]),
    ('single-token', 'The', [464]),
    ('eos-prefixed', '<|endoftext|>The quick brown fox jumps over the lazy dog.\n',
     [50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 198]),
    ('harbour', 'In the early morning the harbour was quiet, and the fishing boats rocked gently '
     'against the pier while the gulls waited on the old stone wall for the first catch of the day.',
     [818, 262, 1903, 3329, 262, 39720, 373, 5897, 11, 290, 262, 12478, 16659, 36872, 15165, 1028,
      262, 17748, 981, 262, 43289, 82, 13488, 319, 262, 1468, 7815, 3355, 329, 262, 717, 4929, 286,
      262, 1110, 13]),
    ('library', LIBRARY,
     [464, 5888, 319, 262, 12788, 550, 587, 4838, 329, 3016, 16571, 812, 618, 262, 3240, 6745, 3443,
      7052, 284, 1280, 340, 757, 13, 15658, 2407, 12086, 1521, 340, 550, 4423, 287, 262, 717, 1295,
      13, 2773, 531, 262, 9753, 550, 14109, 523, 11234, 326, 262, 3555, 2119, 21050, 790, 6076, 26,
      1854, 11189, 326, 262, 938, 300, 35808, 550, 2391, 8970, 262, 8215, 530, 6180, 11, 6807, 866,
      284, 262, 4429, 11, 290, 2077, 262, 1755, 4512, 284, 262, 7051, 1231, 5149, 2687, 13, 15935,
      262, 1738, 11, 262, 2615, 550, 13488, 37220, 11, 663, 7331, 9168, 6279, 276, 351, 8977, 290,
      663, 20726, 991, 1336, 286, 3835, 326, 645, 530, 550, 12615, 1201, 12844, 13, 198, 198, 2215,
      262, 11661, 5284, 319, 262, 717, 3909, 286, 2805, 11, 484, 1043, 262, 2657, 34614, 16572, 11,
      790, 33451, 30538, 287, 15049, 4171, 16882, 13, 317, 11845, 319, 262, 2166, 6915, 991, 3751,
      262, 1227, 286, 3267, 13, 554, 262, 1751, 338, 5228, 11, 257, 1402, 13510, 5118, 550, 587,
      7121, 736, 422, 257, 3084, 11, 355, 611, 2130, 550, 655, 6204, 510, 284, 21207, 1194, 1621, 13,
      383, 11661, 3111, 832, 262, 6076]),
]

# ---------------------------------------------------------------------------------------------
# The weight scheme
# ---------------------------------------------------------------------------------------------
M32 = 0xFFFFFFFF


def fnv1a32(s):
    h = 0x811C9DC5
    for b in s.encode('utf-8'):
        h = ((h ^ b) * 0x01000193) & M32
    return h


def fmix32(h):
    """murmur3 finaliser on a Python int or a uint32 numpy array (numpy wraps on overflow)."""
    if isinstance(h, int):
        h ^= h >> 16
        h = (h * 0x85EBCA6B) & M32
        h ^= h >> 13
        h = (h * 0xC2B2AE35) & M32
        return h ^ (h >> 16)
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def half_log2(n):
    return n.bit_length() // 2


def tensor_rule(name, shape):
    """(bits, s, offset) for a tensor — the table in the module docstring."""
    if name == 'wte.weight':
        return 7, 9, 0.0
    if name == 'wpe.weight':
        return 7, 10, 0.0
    if name.endswith('.bias'):
        return 7, 11, 0.0
    if '.ln_' in name or name.startswith('ln_'):
        return 4, 7, 1.0
    if name.endswith('c_attn.weight') or name.endswith('c_fc.weight'):
        return 7, min(14, 6 + half_log2(shape[0])), 0.0
    if name.endswith('c_proj.weight'):
        return 7, min(14, 7 + half_log2(shape[0])), 0.0
    # Llama-family names (nn.Linear weights are [out, in]: fan_in is shape[1]).
    if name in ('model.embed_tokens.weight', 'lm_head.weight'):
        return 7, 9, 0.0
    if name.endswith('norm.weight'):
        return 4, 7, 1.0
    if re.search(r'(q_proj|k_proj|v_proj|gate_proj|up_proj)\.weight$', name):
        return 7, min(14, 6 + half_log2(shape[1])), 0.0
    if re.search(r'(o_proj|down_proj)\.weight$', name):
        return 7, min(14, 7 + half_log2(shape[1])), 0.0
    raise ValueError(f'no weight rule for tensor {name}')


def synth_tensor(name, shape, seed):
    """The tensor's values as float64 (all exactly representable in f32/bf16/f16)."""
    bits, s, offset = tensor_rule(name, shape)
    key = np.uint32(fmix32(fnv1a32(name) ^ fmix32(seed)))
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.uint32)
    with np.errstate(over='ignore'):
        q = fmix32((i * np.uint32(0x9E3779B1)) ^ key)
    m = (q & np.uint32((1 << bits) - 1)).astype(np.float64)
    v = np.where((q >> np.uint32(31)) != 0, -m, m) * 2.0 ** -s + offset
    return v.reshape(shape)


def tensor_shapes(spec):
    """Canonical GPT-2 names and shapes, in checkpoint order (Conv1D weights are [in, out])."""
    e, v, p = spec['nEmbd'], spec['vocabSize'], spec['nPositions']
    out = [('wte.weight', [v, e]), ('wpe.weight', [p, e])]
    for l in range(spec['nLayer']):
        h = f'h.{l}.'
        out += [
            (h + 'ln_1.weight', [e]), (h + 'ln_1.bias', [e]),
            (h + 'attn.c_attn.weight', [e, 3 * e]), (h + 'attn.c_attn.bias', [3 * e]),
            (h + 'attn.c_proj.weight', [e, e]), (h + 'attn.c_proj.bias', [e]),
            (h + 'ln_2.weight', [e]), (h + 'ln_2.bias', [e]),
            (h + 'mlp.c_fc.weight', [e, 4 * e]), (h + 'mlp.c_fc.bias', [4 * e]),
            (h + 'mlp.c_proj.weight', [4 * e, e]), (h + 'mlp.c_proj.bias', [e]),
        ]
    out += [('ln_f.weight', [e]), ('ln_f.bias', [e])]
    return out


def build_weights(spec):
    weights = {}
    for name, shape in tensor_shapes(spec):
        v = synth_tensor(name, shape, spec['seed'])
        t = torch.from_numpy(v)
        # The whole point of the scheme: one model, three identical dtypes.
        for dt in (torch.float32, torch.bfloat16, torch.float16):
            assert torch.equal(t.to(dt).to(torch.float64), t), f'{name} not exact in {dt}'
        weights[name] = t
    return weights


def sha256_f32(t):
    return hashlib.sha256(t.numpy().astype('<f4').tobytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# GPT-2 forward pass in float64, from the formulas
# ---------------------------------------------------------------------------------------------
def layer_norm(x, g, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance, as torch.nn.LayerNorm
    return (x - mu) / torch.sqrt(var + EPS) * g + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def hidden_states(w, spec, tokens):
    """Final hidden states [T, nEmbd] after ln_f (logits = hidden @ wte^T, tied lm_head)."""
    t = len(tokens)
    e, nh = spec['nEmbd'], spec['nHead']
    hd = e // nh
    assert t <= spec['nPositions']
    x = w['wte.weight'][torch.tensor(tokens)] + w['wpe.weight'][:t]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    for l in range(spec['nLayer']):
        p = f'h.{l}.'
        a = layer_norm(x, w[p + 'ln_1.weight'], w[p + 'ln_1.bias'])
        qkv = a @ w[p + 'attn.c_attn.weight'] + w[p + 'attn.c_attn.bias']
        q, k, v = (z.reshape(t, nh, hd).transpose(0, 1) for z in qkv.split(e, dim=1))
        scores = (q @ k.transpose(1, 2)) / np.sqrt(hd)
        scores = scores.masked_fill(~causal, float('-inf'))
        y = torch.softmax(scores, dim=-1) @ v
        y = y.transpose(0, 1).reshape(t, e)
        x = x + y @ w[p + 'attn.c_proj.weight'] + w[p + 'attn.c_proj.bias']
        m = layer_norm(x, w[p + 'ln_2.weight'], w[p + 'ln_2.bias'])
        m = gelu_new(m @ w[p + 'mlp.c_fc.weight'] + w[p + 'mlp.c_fc.bias'])
        x = x + m @ w[p + 'mlp.c_proj.weight'] + w[p + 'mlp.c_proj.bias']
    return layer_norm(x, w['ln_f.weight'], w['ln_f.bias'])


def top_k(logits, k):
    """Ids of the k largest logits, largest first; ties broken towards the lower id."""
    order = np.lexsort((np.arange(logits.shape[-1]), -logits))
    return order[:k]


def greedy(w, spec, tokens):
    """32 greedy steps, recomputing the full sequence each step; returns tokens and top1-top2 gaps."""
    seq, out, gaps = list(tokens), [], []
    for _ in range(GREEDY_STEPS):
        logits = (hidden_states(w, spec, seq)[-1] @ w['wte.weight'].T).numpy()
        best = top_k(logits, 2)
        gaps.append(float(logits[best[0]] - logits[best[1]]))
        out.append(int(best[0]))
        seq.append(int(best[0]))
    return out, gaps


def r6(x):
    """Six decimals (|error| <= 5e-7): far below f32 engine error, and keeps the JSON small."""
    return round(float(x), 6)


def make_reference(name, spec, w, sampled):
    prompts, last_rows = [], []
    for idx, (pname, text, tokens) in enumerate(PROMPTS):
        assert len(tokens) + GREEDY_STEPS <= spec['nPositions'], pname
        hidden = hidden_states(w, spec, tokens)
        logits = (hidden @ w['wte.weight'].T).numpy()  # [T, vocab]
        gtok, gaps = greedy(w, spec, tokens)
        tops = [top_k(row, 5) for row in logits]
        # float32 engines must not flip a near-tie: every top-1 we publish leads by >= MIN_GAP.
        low = min(gaps + [row[t[0]] - row[t[1]] for row, t in zip(logits, tops)])
        if low < MIN_GAP:
            sys.exit(f'{name}/{pname}: top1-top2 gap {low:.2e} < {MIN_GAP}; choose another prompt or seed')
        prompts.append({
            'name': pname,
            'text': text,
            'tokens': tokens,
            'lastLogitsIndex': idx,
            'sampledLogits': [[r6(v) for v in row[sampled]] for row in logits],
            'top5': [[int(i) for i in t] for t in tops],
            'top5Logits': [[r6(row[i]) for i in t] for row, t in zip(logits, tops)],
            'greedy': {'tokens': gtok, 'gaps': [r6(g) for g in gaps]},
        })
        last_rows.append(logits[-1])
        print(f'  {name} {pname}: T={len(tokens)} logit std {logits[-1].std():.3f} '
              f'min top1-top2 gap {low:.4f}')
    ref = {
        'format': 1,
        'name': name,
        'spec': spec,
        'sampledIds': [int(i) for i in sampled],
        'lastLogits': {'file': 'last-logits.f32', 'dtype': 'f32', 'shape': [len(PROMPTS), VOCAB]},
        'greedySteps': GREEDY_STEPS,
        'prompts': prompts,
        'tensorSha256': {n: sha256_f32(t) for n, t in w.items()},
    }
    return ref, np.stack(last_rows).astype('<f4')


# ---------------------------------------------------------------------------------------------
# Optional checkpoints
# ---------------------------------------------------------------------------------------------
def write_safetensors(path, tensors, dtype):
    header, blobs, off = {'__metadata__': {'format': 'pt'}}, [], 0
    for name, t in tensors.items():
        if dtype == 'F32':
            blob = t.numpy().astype('<f4').tobytes()
        else:  # BF16: the top half of the f32 bits (exact for these weights)
            blob = (t.numpy().astype('<f4').view('<u4') >> 16).astype('<u2').tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    hj = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hj += b' ' * (-len(hj) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hj)))
        f.write(hj)
        for blob in blobs:
            f.write(blob)


def write_checkpoint(out_dir, spec, w, dtype):
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, 'model.safetensors'), w, dtype)
    cfg = {
        'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': spec['vocabSize'],
        'n_positions': spec['nPositions'], 'n_ctx': spec['nPositions'], 'n_embd': spec['nEmbd'],
        'n_layer': spec['nLayer'], 'n_head': spec['nHead'], 'n_inner': None,
        'activation_function': 'gelu_new', 'layer_norm_epsilon': EPS,
        'bos_token_id': EOS, 'eos_token_id': EOS, 'tie_word_embeddings': True,
        'torch_dtype': 'float32' if dtype == 'F32' else 'bfloat16',
    }
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
    tok = os.path.join(FIXTURES, 'gpt2-tokenizer')
    for fname in ('vocab.json', 'merges.txt'):
        if os.path.exists(os.path.join(tok, fname)):
            shutil.copyfile(os.path.join(tok, fname), os.path.join(out_dir, fname))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--write-checkpoints', metavar='DIR',
                    help='also write F32 and BF16 safetensors checkpoints under DIR')
    args = ap.parse_args()
    torch.set_num_threads(2)
    # One seeded id sample shared by both models; the ends of the vocabulary are always in it.
    rng = np.random.default_rng(20240611)
    middle = rng.choice(np.arange(1, EOS), NUM_SAMPLED_IDS - 2, replace=False)
    sampled = np.sort(np.concatenate([[0, EOS], middle]))
    for name, spec in MODELS.items():
        print(f'{name}: {spec}')
        w = build_weights(spec)
        ref, last = make_reference(name, spec, w, sampled)
        out = os.path.join(FIXTURES, name)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, 'reference.json'), 'w') as f:
            json.dump(ref, f, separators=(',', ':'))
            f.write('\n')
        last.tofile(os.path.join(out, 'last-logits.f32'))
        if args.write_checkpoints:
            for dt in ('F32', 'BF16'):
                write_checkpoint(os.path.join(args.write_checkpoints, f'{name}-{dt.lower()}'), spec, w, dt)


if __name__ == '__main__':
    main()
