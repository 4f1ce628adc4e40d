#!/usr/bin/python3
"""The nanoGPT CPU recipe for char-level tiny Shakespeare, in PyTorch, as the
baseline for configs/shakespeare_char_cpu.yaml (same model, data split, batch,
optimizer, schedule, evaluation).

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/shakespeare_torch.py --threads 2

Model: GPT-2 style, n_layer 4, n_head 4, n_embd 128, block 64, no biases, tied
LM head, GELU tanh approximation (as hpsweep), dropout 0. AdamW lr 1e-3, betas
(0.9, 0.99), weight decay 0.1 on 2-D weights, grad clip 1.0, 100 warm-up steps
then cosine to 1e-4 at step 2000. Batch 12, 2000 iterations, evaluation every
250 steps on 20 batches of the validation split (last 10%). Prints the best
validation loss and the wall time (data loading excluded, evaluation included).
Needs Debian's python3-torch (run it with /usr/bin/python3).
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--data", default="../shared/data/tinyshakespeare.txt")
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--iters", type=int, default=2000)
ap.add_argument("--seed", type=int, default=1337)
ap.add_argument("--nanogpt", action="store_true",
                help="nanoGPT's own details instead of hpsweep's: exact GELU, warm-up lr*(it+1)/(W+1)")
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)

text = open(args.data, encoding="utf-8").read()
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
n = int(0.9 * len(data))
train, val = data[:n], data[n:]
V, T, C, L, NH, B = len(chars), 64, 128, 4, 4, 12


def batch(split):
    d = train if split == "train" else val
    ix = torch.randint(len(d) - T - 1, (B,))
    return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + T + 1] for i in ix])


class LN(nn.Module):
    """LayerNorm with a gain and no bias (nanoGPT's bias=False; torch 1.13's has no bias=False)."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return F.layer_norm(x, (x.size(-1),), self.weight, None, 1e-5)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = LN(C)
        self.qkv = nn.Linear(C, 3 * C, bias=False)
        self.proj = nn.Linear(C, C, bias=False)
        self.ln2 = LN(C)
        self.fc = nn.Linear(C, 4 * C, bias=False)
        self.fcproj = nn.Linear(4 * C, C, bias=False)

    def forward(self, x):
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(x.size(0), T, NH, C // NH).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // NH)
        att = att.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(x.size(0), T, C)
        x = x + self.proj(y)
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="none" if args.nanogpt else "tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.lnf = LN(C)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * L) if name.endswith(("proj.weight", "fcproj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe.weight[:T]
        for b in self.blocks:
            x = b(x)
        logits = self.lnf(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, V), targets.view(-1))


model = GPT()
decay = [p for p in model.parameters() if p.dim() == 2]
nodecay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.99))


def lr_at(it, warm=100, total=2000, lr=1e-3, min_lr=1e-4):
    if it < warm:
        return lr * (it + 1) / (warm + 1) if args.nanogpt else lr * it / warm
    r = (it - warm) / (total - warm)
    return min_lr + 0.5 * (1 + math.cos(math.pi * r)) * (lr - min_lr)


torch.manual_seed(0)
evals = [batch("val") for _ in range(20)]
best = float("inf")
t0 = time.time()
for it in range(1, args.iters + 1):
    for g in opt.param_groups:
        g["lr"] = lr_at(it - 1)
    x, y = batch("train")
    loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if it % 250 == 0 or it == args.iters:
        with torch.no_grad():
            vl = sum(model(a, b).item() for a, b in evals) / len(evals)
        best = min(best, vl)
        print(f"step {it:5d} | train loss {loss.item():.4f} | val loss {vl:.4f} | {time.time() - t0:.1f} s", flush=True)
print(f"torch: best val loss {best:.4f}, wall {time.time() - t0:.1f} s, threads {args.threads}")
