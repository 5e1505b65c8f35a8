#!/usr/bin/env python3
"""PyTorch oracle for the tiny Llama-family test fixtures (Llama 3, Qwen2.5, Qwen3).

A float64 forward pass written in this project from Hugging Face's modeling_llama.py,
modeling_qwen2.py, modeling_qwen3.py and the llama3 rope init in modeling_rope_utils.py:

    x = embed_tokens[tokens]
    per layer:  h = rms(x) * input_layernorm
                q, k, v = h @ Wq^T (+bq), h @ Wk^T (+bk), h @ Wv^T (+bv)     (Qwen2: biases always)
                q, k = rms(q_head) * q_norm, rms(k_head) * k_norm              (Qwen3 only)
                q, k = q cos + rotate_half(q) sin, k cos + rotate_half(k) sin  (rotate_half(x) = [-x2, x1])
                K/V head j serves query heads j*g .. j*g+g-1 (repeat_kv), g = heads / kv_heads
                x = x + softmax(q k^T / sqrt(head_dim) + causal) v @ Wo^T (+bo)
                h = rms(x) * post_attention_layernorm
                x = x + (silu(h @ Wg^T) * (h @ Wu^T)) @ Wd^T                   (mlp_bias: + biases)
    logits = (rms(x) * norm) @ (lm_head or embed_tokens)^T

with rms(x) = x / sqrt(mean(x^2) + eps). Weights come from the hash scheme of make_fixtures.py
(its Llama rows), which src/model/synthetic.ts implements too; only the outputs are committed.
The reference.json format is that of the GPT-2 fixtures (test/fixtures/README.md); `spec` holds
the fields of src/model/synthetic-llama.ts's LlamaSyntheticSpec. Prompts and vocab sizes come from
test/fixtures/<name>/prompts.json (scripts/make_llama_prompts.ts: the real Llama 3 / Qwen3 tokenizers'
ids, so this script needs no tokenizer; the synthetic checkpoints carry those tokenizer.json files).

Usage: /usr/bin/python3 scripts/make_llama_fixtures.py
"""

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as g  # noqa: E402  (the weight scheme, prompts and helpers)

MODELS = {
    # Group size 1, tied, default rope.
    'tiny-llama-a': dict(architecture='LlamaForCausalLM', nLayer=2, nHead=4, nKvHead=4, nEmbd=64, headDim=16,
                         nInner=160, nPositions=256, tieWordEmbeddings=True, ropeTheta=10000.0,
                         ropeScaling=None, attentionBias=False, mlpBias=False, rmsNormEps=1e-6, seed=7),
    # Group size 2, untied, head_dim != hidden / heads, llama3 rope scaling (every band used below 256
    # positions: original context 64), attention and MLP biases.
    'tiny-llama-b': dict(architecture='LlamaForCausalLM', nLayer=2, nHead=4, nKvHead=2, nEmbd=64, headDim=32,
                         nInner=128, nPositions=256, tieWordEmbeddings=False, ropeTheta=10000.0,
                         ropeScaling=dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                          original_max_position_embeddings=64),
                         attentionBias=True, mlpBias=True, rmsNormEps=1e-5, seed=11),
    # Group size 4, tied, q/k/v biases (Qwen2.5's shape).
    'tiny-qwen2': dict(architecture='Qwen2ForCausalLM', nLayer=2, nHead=8, nKvHead=2, nEmbd=128, headDim=16,
                       nInner=192, nPositions=256, tieWordEmbeddings=True, ropeTheta=1000000.0,
                       ropeScaling=None, attentionBias=False, mlpBias=False, rmsNormEps=1e-6, seed=10),
    # Group size 4, untied, q/k norm (Qwen3's shape).
    'tiny-qwen3': dict(architecture='Qwen3ForCausalLM', nLayer=2, nHead=4, nKvHead=1, nEmbd=64, headDim=32,
                       nInner=128, nPositions=256, tieWordEmbeddings=False, ropeTheta=1000000.0,
                       ropeScaling=None, attentionBias=False, mlpBias=False, rmsNormEps=1e-6, seed=12),
}


def flags(spec):
    arch = spec['architecture']
    return dict(
        qkv_bias=arch == 'Qwen2ForCausalLM' or spec['attentionBias'],
        o_bias=arch != 'Qwen2ForCausalLM' and spec['attentionBias'],
        mlp_bias=arch == 'LlamaForCausalLM' and spec['mlpBias'],
        qk_norm=arch == 'Qwen3ForCausalLM',
    )


def tensor_shapes(spec):
    """Hugging Face names and shapes in checkpoint order (src/model/llama-tensors.ts)."""
    f = flags(spec)
    c, i, d, v = spec['nEmbd'], spec['nInner'], spec['headDim'], spec['vocabSize']
    q, kv = spec['nHead'] * d, spec['nKvHead'] * d
    out = [('model.embed_tokens.weight', [v, c])]
    for l in range(spec['nLayer']):
        p = f'model.layers.{l}.'
        out.append((p + 'input_layernorm.weight', [c]))
        for name, n in (('q_proj', q), ('k_proj', kv), ('v_proj', kv)):
            out.append((p + f'self_attn.{name}.weight', [n, c]))
            if f['qkv_bias']:
                out.append((p + f'self_attn.{name}.bias', [n]))
        if f['qk_norm']:
            out += [(p + 'self_attn.q_norm.weight', [d]), (p + 'self_attn.k_norm.weight', [d])]
        out.append((p + 'self_attn.o_proj.weight', [c, q]))
        if f['o_bias']:
            out.append((p + 'self_attn.o_proj.bias', [c]))
        out.append((p + 'post_attention_layernorm.weight', [c]))
        out += [(p + 'mlp.gate_proj.weight', [i, c]), (p + 'mlp.up_proj.weight', [i, c]), (p + 'mlp.down_proj.weight', [c, i])]
        if f['mlp_bias']:
            out += [(p + 'mlp.gate_proj.bias', [i]), (p + 'mlp.up_proj.bias', [i]), (p + 'mlp.down_proj.bias', [c])]
    out.append(('model.norm.weight', [c]))
    if not spec['tieWordEmbeddings']:
        out.append(('lm_head.weight', [v, c]))
    return out


def build_weights(spec):
    w = {}
    for name, shape in tensor_shapes(spec):
        t = torch.from_numpy(g.synth_tensor(name, shape, spec['seed']))
        for dt in (torch.float32, torch.bfloat16, torch.float16):
            assert torch.equal(t.to(dt).to(torch.float64), t), f'{name} not exact in {dt}'
        w[name] = t
    return w


def inv_freq(spec):
    """Default rope frequencies, then HF's _compute_llama3_parameters when rope_scaling is llama3."""
    d = spec['headDim']
    inv = 1.0 / (spec['ropeTheta'] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    s = spec['ropeScaling']
    if s is None:
        return inv
    factor, low, high, old = s['factor'], s['low_freq_factor'], s['high_freq_factor'], s['original_max_position_embeddings']
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv
    inv_l = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, inv_l)


def rms(x, weight, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def linear(x, w, name, bias):
    y = x @ w[name + '.weight'].T
    return y + w[name + '.bias'] if bias else y


def hidden_states(w, spec, tokens):
    """Final normed hidden states [T, nEmbd]."""
    f = flags(spec)
    t, nh, nkv, d, eps = len(tokens), spec['nHead'], spec['nKvHead'], spec['headDim'], spec['rmsNormEps']
    assert t <= spec['nPositions']
    x = w['model.embed_tokens.weight'][torch.tensor(tokens)]
    freqs = torch.outer(torch.arange(t, dtype=torch.float64), inv_freq(spec))
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    for l in range(spec['nLayer']):
        p = f'model.layers.{l}.'
        h = rms(x, w[p + 'input_layernorm.weight'], eps)
        q = linear(h, w, p + 'self_attn.q_proj', f['qkv_bias']).view(t, nh, d)
        k = linear(h, w, p + 'self_attn.k_proj', f['qkv_bias']).view(t, nkv, d)
        v = linear(h, w, p + 'self_attn.v_proj', f['qkv_bias']).view(t, nkv, d)
        if f['qk_norm']:
            q = rms(q, w[p + 'self_attn.q_norm.weight'], eps)
            k = rms(k, w[p + 'self_attn.k_norm.weight'], eps)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        scores = torch.einsum('thd,shd->hts', q, k) / math.sqrt(d)
        scores = scores.masked_fill(~causal, float('-inf'))
        y = torch.einsum('hts,shd->thd', torch.softmax(scores, dim=-1), v).reshape(t, nh * d)
        x = x + linear(y, w, p + 'self_attn.o_proj', f['o_bias'])
        h = rms(x, w[p + 'post_attention_layernorm.weight'], eps)
        gate = linear(h, w, p + 'mlp.gate_proj', f['mlp_bias'])
        up = linear(h, w, p + 'mlp.up_proj', f['mlp_bias'])
        x = x + linear(torch.nn.functional.silu(gate) * up, w, p + 'mlp.down_proj', f['mlp_bias'])
    return rms(x, w['model.norm.weight'], eps)


def head(w, spec):
    return w['model.embed_tokens.weight'] if spec['tieWordEmbeddings'] else w['lm_head.weight']


def greedy(w, spec, tokens):
    seq, out, gaps = list(tokens), [], []
    for _ in range(g.GREEDY_STEPS):
        logits = (hidden_states(w, spec, seq)[-1] @ head(w, spec).T).numpy()
        best = g.top_k(logits, 2)
        gaps.append(float(logits[best[0]] - logits[best[1]]))
        out.append(int(best[0]))
        seq.append(int(best[0]))
    return out, gaps


# The GPT-2 fixtures' prompt texts but the 193-token one (with >100k random logits, each position has
# a ~1 % chance of a top-2 gap below MIN_GAP, so fewer positions let a nearby seed pass the rule),
# encoded by the model's real tokenizer: test/fixtures/<name>/prompts.json.
def load_prompts(name):
    with open(os.path.join(g.FIXTURES, name, 'prompts.json')) as fh:
        p = json.load(fh)
    return p, [(q['name'], q['text'], q['tokens']) for q in p['prompts']]


class NearTie(Exception):
    pass


def make_reference(name, spec, w, sampled, PROMPTS, tokenizer_size):
    # Every prompt position first (one pass each), so a seed with a near-tie fails fast.
    all_logits = []
    for pname, _, tokens in PROMPTS:
        assert len(tokens) + g.GREEDY_STEPS <= spec['nPositions'], pname
        logits = (hidden_states(w, spec, tokens) @ head(w, spec).T).numpy()
        for row in logits:
            t = g.top_k(row, 2)
            if row[t[0]] - row[t[1]] < g.MIN_GAP:
                raise NearTie(f'{pname} prompt')
        all_logits.append(logits)
    prompts, last_rows = [], []
    for idx, ((pname, text, tokens), logits) in enumerate(zip(PROMPTS, all_logits)):
        gtok, gaps = greedy(w, spec, tokens)
        tops = [g.top_k(row, 5) for row in logits]
        low = min(gaps + [row[t[0]] - row[t[1]] for row, t in zip(logits, tops)])
        if low < g.MIN_GAP:
            raise NearTie(f'{pname} greedy')
        if max(gtok) >= tokenizer_size:  # Qwen: config vocab > tokenizer entries; keep greedy ids decodable
            raise NearTie(f'{pname} greedy (id {max(gtok)} has no token)')
        prompts.append({
            'name': pname, 'text': text, 'tokens': tokens, 'lastLogitsIndex': idx,
            'sampledLogits': [[g.r6(v) for v in row[sampled]] for row in logits],
            'top5': [[int(i) for i in t] for t in tops],
            'top5Logits': [[g.r6(row[i]) for i in t] for row, t in zip(logits, tops)],
            'greedy': {'tokens': gtok, 'gaps': [g.r6(x) for x in gaps]},
        })
        last_rows.append(logits[-1])
        print(f'  {name} {pname}: T={len(tokens)} logit std {logits[-1].std():.3f} min top1-top2 gap {low:.4f}')
    ref = {
        'format': 1, 'name': name, 'spec': spec, 'sampledIds': [int(i) for i in sampled],
        'lastLogits': {'file': 'last-logits.f32', 'dtype': 'f32', 'shape': [len(PROMPTS), spec['vocabSize']]},
        'greedySteps': g.GREEDY_STEPS, 'prompts': prompts,
        'tensorSha256': {n: g.sha256_f32(t) for n, t in w.items()},
    }
    return ref, np.stack(last_rows).astype('<f4')


def main():
    torch.set_num_threads(2)
    only = set(sys.argv[1:])
    for name, spec in MODELS.items():
        if only and name not in only:
            continue
        info, prompts = load_prompts(name)
        vocab = info['vocabSize']
        spec = dict(spec, vocabSize=vocab)
        rng = np.random.default_rng(20240611)  # the GPT-2 fixtures' sampling, over this vocabulary
        middle = rng.choice(np.arange(1, vocab - 1), g.NUM_SAMPLED_IDS - 2, replace=False)
        sampled = np.sort(np.concatenate([[0, vocab - 1], middle]))
        # The first seed from spec['seed'] whose outputs keep every top-1 MIN_GAP clear.
        for seed in range(spec['seed'], spec['seed'] + 80):
            spec = dict(spec, seed=seed)
            print(f'{name}: {spec}')
            try:
                ref, last = make_reference(name, spec, build_weights(spec), sampled, prompts, info['tokenizerSize'])
                break
            except NearTie as e:
                print(f'  seed {seed}: near-tie in {e}; next seed')
        else:
            sys.exit(f'{name}: no seed in 80 keeps the top-1 gaps >= {g.MIN_GAP}')
        out = os.path.join(g.FIXTURES, name)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, 'reference.json'), 'w') as fh:
            json.dump(ref, fh, separators=(',', ':'))
            fh.write('\n')
        last.tofile(os.path.join(out, 'last-logits.f32'))


if __name__ == '__main__':
    main()
