#!/usr/bin/python3
"""Train kjv-mini: a small GPT-2 on the King James Bible, written as a Hugging Face GPT-2 folder.

    /usr/bin/python3 scripts/train_demo.py [--out models/kjv-mini] [--steps N] [--threads 2]

Needs Debian's PyTorch (apt-get install -y python3-torch; run with /usr/bin/python3) and, for the
corpus, bible-kjv (scripts/kjv_corpus.py installs it when missing). Debian's PyTorch calls the
system BLAS, by default the reference Netlib one (~5 GFLOP/s); the script installs OpenBLAS
(libopenblas0-pthread, ~65 GFLOP/s per core) when missing and re-executes itself with OpenBLAS
first on LD_LIBRARY_PATH and OPENBLAS_NUM_THREADS=--threads, leaving the system's BLAS choice alone.
Runs the whole pipeline:
  1. scripts/kjv_corpus.py  -> .tmp/kjv/train.txt, heldout.txt   (skipped when present)
  2. scripts/train_bpe.py   -> .tmp/kjv/tokenizer/               (skipped when present)
  3. trains the model below, printing train and held-out loss every --eval-every steps
  4. writes --out: model.safetensors (bf16, Hugging Face GPT-2 names, Conv1D [in, out] layout),
     config.json, generation_config.json, vocab.json, merges.txt and a model card README.md.

The model is GPT-2 as Hugging Face's GPT2LMHeadModel computes it (learned positions, pre-LayerNorm
with eps 1e-5, gelu_new, lm_head tied to wte), in plain PyTorch. Training is seeded and fixed-length
(--steps); with the same PyTorch build and thread count the run is reproducible bit for bit.
The defaults are the shipped model's recipe: about 1.2M tokens, some 10 minutes on one idle
core of an AMD EPYC with OpenBLAS (the shipped run took 40 minutes on a heavily shared machine).
Longer runs (--steps) keep improving the held-out loss.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit('PyTorch missing: apt-get install -y python3-torch, then run with /usr/bin/python3')

HERE = os.path.dirname(os.path.abspath(__file__))
OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-pthread'


def use_openblas(threads: int) -> None:
    """Re-executes this script with OpenBLAS, installing it if needed (no-op once done)."""
    if os.environ.get('LD_LIBRARY_PATH', '').split(':')[0] == OPENBLAS:
        return
    if not os.path.exists(os.path.join(OPENBLAS, 'libblas.so.3')):
        print('installing OpenBLAS: apt-get install -y libopenblas0-pthread', file=sys.stderr)
        subprocess.run(['apt-get', 'install', '-y', 'libopenblas0-pthread'], check=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads),
               LD_LIBRARY_PATH=':'.join(p for p in [OPENBLAS, os.environ.get('LD_LIBRARY_PATH', '')] if p))
    os.execve(sys.executable, [sys.executable, *sys.argv], env)
sys.path.insert(0, HERE)
import train_bpe  # noqa: E402

EPS = 1e-5


# ---------------------------------------------------------------- tokenizer (GPT-2 encoder.py)
class Encoder:
    def __init__(self, tok_dir: str) -> None:
        with open(os.path.join(tok_dir, 'vocab.json'), encoding='utf-8') as f:
            self.vocab = json.load(f)
        with open(os.path.join(tok_dir, 'merges.txt'), encoding='utf-8') as f:
            rows = [r.split(' ') for r in f.read().split('\n')[1:] if r]
        self.ranks = {tuple(r): i for i, r in enumerate(rows)}
        self.b2u = train_bpe.bytes_to_unicode()
        self.cache: dict[str, list[int]] = {}

    def bpe(self, word: str) -> list[int]:
        hit = self.cache.get(word)
        if hit is not None:
            return hit
        parts = [self.b2u[b] for b in word.encode('utf-8')]
        while len(parts) > 1:
            pairs = [(self.ranks.get(p, math.inf), i) for i, p in enumerate(zip(parts, parts[1:]))]
            rank, i = min(pairs)
            if rank == math.inf:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        ids = [self.vocab[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        return [t for w in train_bpe.PRETOKENIZE.findall(text) for t in self.bpe(w)]


# ---------------------------------------------------------------- model (GPT2LMHeadModel)
def gelu_new(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


class GPT2(torch.nn.Module):
    """Parameters are named and laid out as in Hugging Face GPT-2 (Conv1D weights are [in, out])."""

    def __init__(self, vocab: int, n_pos: int, n_layer: int, n_head: int, n_embd: int, dropout: float) -> None:
        super().__init__()
        self.n_layer, self.n_head, self.n_embd, self.dropout = n_layer, n_head, n_embd, dropout
        P = torch.nn.Parameter
        C = n_embd
        std, proj_std = 0.02, 0.02 / math.sqrt(2 * n_layer)
        self.params = torch.nn.ParameterDict()

        def add(name: str, shape: tuple, init: str) -> None:
            t = torch.empty(shape)
            if init == 'ones':
                t.fill_(1.0)
            elif init == 'zeros':
                t.zero_()
            else:
                t.normal_(0.0, proj_std if init == 'proj' else std)
            self.params[name.replace('.', '__')] = P(t)

        add('wte.weight', (vocab, C), 'normal')
        add('wpe.weight', (n_pos, C), 'normal')
        for i in range(n_layer):
            p = f'h.{i}'
            add(f'{p}.ln_1.weight', (C,), 'ones')
            add(f'{p}.ln_1.bias', (C,), 'zeros')
            add(f'{p}.attn.c_attn.weight', (C, 3 * C), 'normal')
            add(f'{p}.attn.c_attn.bias', (3 * C,), 'zeros')
            add(f'{p}.attn.c_proj.weight', (C, C), 'proj')
            add(f'{p}.attn.c_proj.bias', (C,), 'zeros')
            add(f'{p}.ln_2.weight', (C,), 'ones')
            add(f'{p}.ln_2.bias', (C,), 'zeros')
            add(f'{p}.mlp.c_fc.weight', (C, 4 * C), 'normal')
            add(f'{p}.mlp.c_fc.bias', (4 * C,), 'zeros')
            add(f'{p}.mlp.c_proj.weight', (4 * C, C), 'proj')
            add(f'{p}.mlp.c_proj.bias', (C,), 'zeros')
        add('ln_f.weight', (C,), 'ones')
        add('ln_f.bias', (C,), 'zeros')

    def w(self, name: str) -> torch.Tensor:
        return self.params[name.replace('.', '__')]

    def named_tensors(self) -> dict[str, torch.Tensor]:
        return {k.replace('__', '.'): v for k, v in self.params.items()}

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        C, H = self.n_embd, self.n_head
        w, drop = self.w, self.dropout if self.training else 0.0
        x = F.embedding(idx, w('wte.weight')) + w('wpe.weight')[:T]
        x = F.dropout(x, drop, self.training)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        for i in range(self.n_layer):
            p = f'h.{i}'
            h = F.layer_norm(x, (C,), w(f'{p}.ln_1.weight'), w(f'{p}.ln_1.bias'), EPS)
            qkv = torch.addmm(w(f'{p}.attn.c_attn.bias'), h.view(B * T, C), w(f'{p}.attn.c_attn.weight'))
            q, k, v = qkv.view(B, T, 3, H, C // H).permute(2, 0, 3, 1, 4)
            att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(C // H))
            att = F.dropout(att.masked_fill(mask, float('-inf')).softmax(-1), drop, self.training)
            y = (att @ v).transpose(1, 2).reshape(B * T, C)
            y = torch.addmm(w(f'{p}.attn.c_proj.bias'), y, w(f'{p}.attn.c_proj.weight'))
            x = x + F.dropout(y.view(B, T, C), drop, self.training)
            h = F.layer_norm(x, (C,), w(f'{p}.ln_2.weight'), w(f'{p}.ln_2.bias'), EPS)
            h = gelu_new(torch.addmm(w(f'{p}.mlp.c_fc.bias'), h.view(B * T, C), w(f'{p}.mlp.c_fc.weight')))
            h = torch.addmm(w(f'{p}.mlp.c_proj.bias'), h, w(f'{p}.mlp.c_proj.weight'))
            x = x + F.dropout(h.view(B, T, C), drop, self.training)
        x = F.layer_norm(x, (C,), w('ln_f.weight'), w('ln_f.bias'), EPS)
        return x @ w('wte.weight').t()


# ---------------------------------------------------------------- data and evaluation
def windows(tokens: torch.Tensor, T: int) -> torch.Tensor:
    """Non-overlapping windows of T tokens (the tail that does not fill a window is dropped)."""
    n = (len(tokens) // T) * T
    return tokens[:n].view(-1, T)


@torch.no_grad()
def eval_loss(model: GPT2, wins: torch.Tensor, batch: int = 8) -> float:
    """Mean next-token NLL (nats) over every window position after the first."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(wins), batch):
        x = wins[i:i + batch]
        logits = model(x[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1), reduction='sum').item()
        count += x[:, 1:].numel()
    model.train()
    return total / count


def unigram_loss(train: torch.Tensor, held: torch.Tensor, vocab: int) -> float:
    """Held-out NLL of an add-one unigram model fitted on the train tokens: the baseline to beat."""
    counts = torch.bincount(train, minlength=vocab).double() + 1.0
    logp = (counts / counts.sum()).log()
    return -logp[held].mean().item()


# ---------------------------------------------------------------- export
def write_safetensors(path: str, tensors: dict[str, torch.Tensor]) -> None:
    """bf16 safetensors, tensors in name order (no dependency on the safetensors package)."""
    header, blobs, offset = {'__metadata__': {'format': 'pt'}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.bfloat16).contiguous()
        data = t.view(torch.int16).numpy().astype('<i2').tobytes()
        header[name] = {'dtype': 'BF16', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def hf_config(a: argparse.Namespace, vocab: int, eos: int) -> dict:
    return {
        'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2',
        'vocab_size': vocab, 'n_positions': a.n_positions, 'n_ctx': a.n_positions,
        'n_embd': a.n_embd, 'n_layer': a.n_layer, 'n_head': a.n_head, 'n_inner': None,
        'activation_function': 'gelu_new', 'layer_norm_epsilon': EPS,
        'resid_pdrop': a.dropout, 'embd_pdrop': a.dropout, 'attn_pdrop': a.dropout,
        'initializer_range': 0.02, 'scale_attn_weights': True, 'tie_word_embeddings': True,
        'bos_token_id': eos, 'eos_token_id': eos, 'torch_dtype': 'bfloat16',
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--work', default='.tmp/kjv', help='corpus and tokenizer folder')
    ap.add_argument('--out', default='models/kjv-mini')
    ap.add_argument('--vocab-size', type=int, default=4096)
    ap.add_argument('--n-layer', type=int, default=4)
    ap.add_argument('--n-head', type=int, default=4)
    ap.add_argument('--n-embd', type=int, default=256)
    ap.add_argument('--n-positions', type=int, default=512)
    ap.add_argument('--seq-len', type=int, default=256, help='training window (<= n-positions)')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--steps', type=int, default=600)
    ap.add_argument('--warmup', type=int, default=50)
    ap.add_argument('--decay-steps', type=int, default=200,
                    help='the learning rate is constant after warm-up, then falls linearly to --min-lr over the last N steps')
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--min-lr', type=float, default=1e-4)
    ap.add_argument('--weight-decay', type=float, default=0.1)
    ap.add_argument('--dropout', type=float, default=0.0)
    ap.add_argument('--long-every', type=int, default=4,
                    help='every Nth step trains on full n-positions windows (batch scaled down) so all positions learn')
    ap.add_argument('--eval-every', type=int, default=100)
    ap.add_argument('--eval-windows', type=int, default=4, help='held-out windows for the periodic evaluation (the final one uses all)')
    ap.add_argument('--checkpoint', default='', help='save training state here every --eval-every steps')
    ap.add_argument('--stop-after', type=int, default=0, help='exit after this step (a multiple of --eval-every), once checkpointed')
    ap.add_argument('--resume', default='', help='continue from a --checkpoint file (bit-identical to an uninterrupted run)')
    ap.add_argument('--seed', type=int, default=1611)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--no-openblas', action='store_true', help='keep the system BLAS (slow with the reference BLAS)')
    a = ap.parse_args()
    if not a.no_openblas:
        use_openblas(a.threads)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    train_txt, held_txt = (os.path.join(a.work, f'{s}.txt') for s in ('train', 'heldout'))
    tok_dir = os.path.join(a.work, 'tokenizer')
    if not (os.path.exists(train_txt) and os.path.exists(held_txt)):
        subprocess.run([sys.executable, os.path.join(HERE, 'kjv_corpus.py'), '--out', a.work], check=True)
    if not os.path.exists(os.path.join(tok_dir, 'merges.txt')):
        subprocess.run([sys.executable, os.path.join(HERE, 'train_bpe.py'), '--input', train_txt,
                        '--vocab-size', str(a.vocab_size), '--out', tok_dir], check=True)
    enc = Encoder(tok_dir)
    vocab = len(enc.vocab)
    eos = enc.vocab[train_bpe.ENDOFTEXT]
    t0 = time.time()
    with open(train_txt, encoding='utf-8') as f:
        train = torch.tensor(enc.encode(f.read()), dtype=torch.long)
    with open(held_txt, encoding='utf-8') as f:
        held = torch.tensor(enc.encode(f.read()), dtype=torch.long)
    print(f'tokens: train {len(train)}, held-out {len(held)} ({time.time() - t0:.1f}s); vocab {vocab}', flush=True)
    held_wins = windows(held, a.n_positions)
    uni = unigram_loss(train, held_wins[:, 1:].reshape(-1), vocab)
    print(f'unigram baseline held-out loss {uni:.4f}', flush=True)

    model = GPT2(vocab, a.n_positions, a.n_layer, a.n_head, a.n_embd, a.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'model: {a.n_layer} layers, {a.n_head} heads, width {a.n_embd}, {n_params} parameters', flush=True)
    decay = [p for n, p in model.named_tensors().items() if p.dim() == 2 and not n.startswith('wpe')]
    no_decay = [p for n, p in model.named_tensors().items() if not (p.dim() == 2 and not n.startswith('wpe'))]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': a.weight_decay},
                             {'params': no_decay, 'weight_decay': 0.0}], lr=a.lr, betas=(0.9, 0.95))
    long_batch = max(1, a.batch * a.seq_len // a.n_positions)

    # Warm-up, constant, then linear decay: the constant phase does not depend on --steps, so a run
    # can be resumed from a checkpoint with a different --steps and match a fresh run with that value.
    def lr_at(step: int) -> float:
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        decay_from = a.steps - a.decay_steps
        if step < decay_from:
            return a.lr
        return a.lr + (a.min_lr - a.lr) * (step + 1 - decay_from) / a.decay_steps

    t0, seen, running, first = time.time(), 0, None, 0
    if a.resume:
        state = torch.load(a.resume)
        model.load_state_dict(state['model'])
        opt.load_state_dict(state['opt'])
        first, seen, running = state['step'], state['seen'], state['running']
        t0 -= state['seconds']
        print(f'resumed from {a.resume} at step {first}', flush=True)
    for step in range(first, a.steps):
        long = a.long_every > 0 and step % a.long_every == a.long_every - 1
        T, B = (a.n_positions, long_batch) if long else (a.seq_len, a.batch)
        # Each step's batch depends only on (seed, step): resuming needs no generator state.
        gen = torch.Generator().manual_seed(a.seed * 1_000_003 + step)
        starts = torch.randint(0, len(train) - T - 1, (B,), generator=gen)
        x = torch.stack([train[s:s + T + 1] for s in starts.tolist()])
        for g in opt.param_groups:
            g['lr'] = lr_at(step)
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += B * T
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % 10 == 0:
            el = time.time() - t0
            print(f'step {step:5d}  loss {loss.item():.4f}  avg {running:.4f}  lr {lr_at(step):.2e}  '
                  f'{el / 60:.1f} min', flush=True)
        if (step + 1) % a.eval_every == 0 or step + 1 == a.steps:
            held_part = eval_loss(model, held_wins[:a.eval_windows])
            print(f'eval step {step + 1}: train(avg) {running:.4f}  held-out({a.eval_windows} windows) {held_part:.4f}',
                  flush=True)
            if a.checkpoint:
                state = {'model': model.state_dict(), 'opt': opt.state_dict(), 'step': step + 1,
                         'seen': seen, 'running': running,
                         'seconds': time.time() - t0}
                torch.save(state, a.checkpoint + '.tmp')
                os.replace(a.checkpoint + '.tmp', a.checkpoint)
            if step + 1 == a.stop_after:
                print(f'stopped after step {step + 1}', flush=True)
                return

    # The shipped model is the bf16 one: evaluate what the engine will load.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    held_loss = eval_loss(model, held_wins)
    minutes = (time.time() - t0) / 60
    print(f'final (bf16 weights): held-out loss {held_loss:.4f}, perplexity {math.exp(held_loss):.2f}; '
          f'unigram {uni:.4f}; {minutes:.1f} min', flush=True)

    os.makedirs(a.out, exist_ok=True)
    write_safetensors(os.path.join(a.out, 'model.safetensors'), model.named_tensors())
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(hf_config(a, vocab, eos), f, indent=2)
        f.write('\n')
    with open(os.path.join(a.out, 'generation_config.json'), 'w') as f:
        json.dump({'bos_token_id': eos, 'eos_token_id': eos}, f, indent=2)
        f.write('\n')
    for name in ('vocab.json', 'merges.txt'):
        with open(os.path.join(tok_dir, name), 'rb') as src, open(os.path.join(a.out, name), 'wb') as dst:
            dst.write(src.read())
    sample_prompt = 'In the beginning God created'
    sample = sample_prompt + greedy_text(model, enc, sample_prompt, 40)
    print(f'greedy sample: {sample!r}', flush=True)
    stats = {
        'params': n_params, 'train_tokens': len(train), 'heldout_tokens': int(held_wins[:, 1:].numel()),
        'tokens_seen': seen, 'heldout_loss': round(held_loss, 4), 'heldout_ppl': round(math.exp(held_loss), 2),
        'unigram_loss': round(uni, 4), 'minutes': round(minutes, 1), 'threads': a.threads,
        'torch': torch.__version__,
    }
    with open(os.path.join(a.out, 'README.md'), 'w') as f:
        f.write(model_card(a, stats, sample))
    print(json.dumps(stats), flush=True)


@torch.no_grad()
def greedy_text(model: GPT2, enc: Encoder, prompt: str, steps: int) -> str:
    model.eval()
    ids = enc.encode(prompt)
    for _ in range(steps):
        ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    inv = {v: k for k, v in enc.vocab.items()}
    u2b = {u: b for b, u in enc.b2u.items()}
    text = bytes(u2b[c] for i in ids for c in inv[i]).decode('utf-8', 'replace')
    return text[len(prompt):]


def model_card(a: argparse.Namespace, s: dict, sample: str) -> str:
    cmd = (f'/usr/bin/python3 scripts/train_demo.py --steps {a.steps} --batch {a.batch} --seq-len {a.seq_len} '
           f'--warmup {a.warmup} --decay-steps {a.decay_steps} --lr {a.lr} --seed {a.seed} --threads {a.threads}')
    return f"""# kjv-mini

A small GPT-2 trained from scratch on the King James Bible, shipped with tinyvllm so that the engine
has a genuinely trained model that runs offline: `tinyvllm generate "In the beginning God created" --model kjv-mini`.
It writes King James-flavoured text and knows nothing else. Greedy decoding, 40 tokens (a model this
small soon loops under greedy decoding; sampling, e.g. `-t 0.8 --top-p 0.95`, reads better):

```text
{sample}
```

| | |
|---|---|
| architecture | GPT-2 (`GPT2LMHeadModel`): {a.n_layer} layers, {a.n_head} heads, width {a.n_embd}, context {a.n_positions}, gelu_new, tied lm_head |
| parameters | {s['params']:,} (bf16 safetensors) |
| tokenizer | byte-level BPE, GPT-2 format (`vocab.json` + `merges.txt`), {a.vocab_size} tokens incl. `<\\|endoftext\\|>` (id {a.vocab_size - 1}) |
| training data | Genesis to Hebrews, one verse per line: {s['train_tokens']:,} tokens |
| held-out data | James to Revelation (835 verses): {s['heldout_tokens']:,} predicted tokens in windows of {a.n_positions} |
| held-out loss | **{s['heldout_loss']:.4f}** nats/token (perplexity {s['heldout_ppl']:.2f}) with the bf16 weights |
| unigram baseline | {s['unigram_loss']:.4f} nats/token (add-one unigram fitted on the training tokens) |
| license | weights and tokenizer: public domain (CC0), like the text they were trained on |

## Data

The King James Version as Debian's `bible-kjv` package ships it (public domain; the package is
GPL, the text itself is not copyrightable). `scripts/kjv_corpus.py` prints it with the `bible`
program, keeps the verse text (no book, chapter or verse numbers), collapses whitespace and writes
one verse per line. Books from James to Revelation are held out.

## Training recipe

`scripts/train_bpe.py` learns {a.vocab_size - 257} merges on the training split with GPT-2's
pre-tokenisation. `scripts/train_demo.py` then trains from GPT-2's initialisation (normal 0.02,
residual projections scaled by 1/sqrt(2 x layers)) with AdamW (betas 0.9/0.95, weight decay
{a.weight_decay} on matrices), learning rate {a.lr} after {a.warmup} linear warm-up steps, constant, then a linear decay to {a.min_lr} over the last {a.decay_steps} steps,
gradient clipping at 1.0, dropout {a.dropout}, {a.steps} steps of {a.batch} random windows of {a.seq_len} tokens
(every {a.long_every}th step uses {a.n_positions}-token windows so that every position is trained):
{s['tokens_seen']:,} tokens in all (about 1.2 epochs), float32, PyTorch {s['torch']} with OpenBLAS, {s['threads']} thread(s)
of an AMD EPYC. It took {s['minutes']} minutes of wall-clock time on a heavily shared 2-core machine
(about 0.85 CPU-seconds per step: some 10 minutes on an idle core). Seeded: the same command,
PyTorch build and thread count reproduce it bit for bit, also when resumed from a `--checkpoint`.

```
{cmd}
```

## Intended use

A realistic subject for tests and benchmarks (quantisation accuracy, speculative decoding
acceptance, the playground) and an offline first run. Not for any real use.
"""


if __name__ == '__main__':
    main()
