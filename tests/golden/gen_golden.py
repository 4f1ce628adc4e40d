#!/usr/bin/python3
"""gen_golden.py: PyTorch reference values for tests/test_tr_golden.c.

Regenerate (needs torch; the Debian one is torch 1.13 under /usr/bin/python3):

    /usr/bin/python3 tests/golden/gen_golden.py        # writes tests/golden/gpt_bias{1,0}.bin, gpt_mup_bias1.bin

The C tests only read the .bin files (committed); they never run Python.

The model is the one of trainer/tr_model.h, written with torch functional ops on
the flat parameter layout (wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb,
ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb; weights (out, in); biases
empty when bias = 0): pre-LN blocks, causal attention with fused QKV, GELU with
approximate='tanh', LayerNorm eps 1e-5, LM head tied to wte, mean cross-entropy,
no dropout. Weights are drawn here (deterministic torch generator, seed 1234 +
bias), rounded to float32, and the reference is then computed in float64.

Config: V=32, T=8, C=16, L=2, n_head=2, mlp_ratio=4, B=2, bias 1 and 0.

muP (gpt_mup_bias1.bin, the same config with bias 1, model.parametrization mup,
mup_base_width 8, so the width multiplier w = 2): attention logits q.k / d_head,
output logits (x @ wte^T) / w, and the AdamW trajectory of mup's MuAdamW: the
hidden matrices (qkvw, attprojw, fcw, fcprojw) in groups with lr / w and
weight_decay * w; wte, wpe (decay WD) and the rest (decay 0) unscaled. The
weights are drawn as for the standard files (init scaling is a C test).

AdamW trajectory (for the optimizer test): torch.optim.AdamW(lr=1e-2,
betas=(0.9, 0.95), eps=1e-8), weight_decay 0.1 only on wte, wpe, qkvw, attprojw, fcw,
fcprojw (0 on everything else), gradients clipped before each step with
torch.nn.utils.clip_grad_norm_(params, 1.0) (coef = 1/(norm + 1e-6) when
norm > 1). Each of the 5 steps: forward + backward on the same batch, record the
loss, clip, step. adam_losses[i] is the loss BEFORE update i+1 (adam_losses[0] ==
loss); params_after are the weights after the 5th update.

File format (little-endian):
    char    magic[8]      "HPSGOLD\\0"
    int32   version       1
    int32   V, T, C, L, n_head, mlp_ratio, bias, B
    int32   nparams       floats in the flat parameter buffer
    int32   tokens[B*T], targets[B*T]
    float32 params[nparams]
    float32 logits[B*T*V]
    float32 loss
    float32 grads[nparams]          d(mean loss)/dparams
    int32   nsteps                  5
    float64 lr, beta1, beta2, eps, weight_decay, grad_clip
    float32 adam_losses[nsteps]
    float32 params_after[nparams]

Version 2 (the muP file) is version 1 with two more int32 after nparams in
the header: parametrization (1 = mup) and mup_base_width.
"""
import math
import os
import struct

import torch
import torch.nn.functional as F

V, T, C, L, NH, MLP, B = 32, 8, 16, 2, 2, 4, 2
NSTEPS, LR, BETAS, EPS, WD, CLIP = 5, 1e-2, (0.9, 0.95), 1e-8, 0.1, 1.0
DECAYED = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}
HIDDEN = {"qkvw", "attprojw", "fcw", "fcprojw"}
MUP_BASE = 8


def layout(bias):
    H = MLP * C
    nb = 1 if bias else 0
    return [("wte", (V, C)), ("wpe", (T, C)), ("ln1w", (L, C)), ("ln1b", (L, C * nb)),
            ("qkvw", (L, 3 * C, C)), ("qkvb", (L, 3 * C * nb)), ("attprojw", (L, C, C)),
            ("attprojb", (L, C * nb)), ("ln2w", (L, C)), ("ln2b", (L, C * nb)),
            ("fcw", (L, H, C)), ("fcb", (L, H * nb)), ("fcprojw", (L, C, H)),
            ("fcprojb", (L, C * nb)), ("lnfw", (C,)), ("lnfb", (C * nb,))]


def make_weights(bias, gen):
    """float32 weights, larger than GPT-2 init so every term matters."""
    w = {}
    for name, shape in layout(bias):
        z = torch.randn(shape, generator=gen, dtype=torch.float32)
        if name.endswith("w") and name.startswith("ln"):
            w[name] = 1.0 + 0.2 * z
        elif name in ("wte", "wpe"):
            w[name] = 0.5 * z
        elif name.endswith("w"):
            w[name] = z / math.sqrt(shape[-1])
        else:
            w[name] = 0.1 * z
    return w


def forward(p, tok, tgt, bias, mup=False):
    hs = C // NH
    out_mult = MUP_BASE / C if mup else 1.0

    def b(name, l):  # a layer's bias, None when the model has none
        return p[name][l] if bias else None

    x = p["wte"][tok] + p["wpe"][:T]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], b("ln1b", l), 1e-5)
        qkv = F.linear(h, p["qkvw"][l], b("qkvb", l))
        q, k, v = qkv.split(C, dim=2)
        q = q.view(B, T, NH, hs).transpose(1, 2)
        k = k.view(B, T, NH, hs).transpose(1, 2)
        v = v.view(B, T, NH, hs).transpose(1, 2)
        s = q @ k.transpose(-2, -1)
        att = s / hs if mup else s / math.sqrt(hs)  # muP: 1/d_head
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(y, p["attprojw"][l], b("attprojb", l))
        h = F.layer_norm(x, (C,), p["ln2w"][l], b("ln2b", l), 1e-5)
        h = F.gelu(F.linear(h, p["fcw"][l], b("fcb", l)), approximate="tanh")
        x = x + F.linear(h, p["fcprojw"][l], b("fcprojb", l))
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"] if bias else None, 1e-5)
    logits = x @ p["wte"].t()
    if mup:
        logits = logits * out_mult
    loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))
    return logits, loss


def flat(tensors, names):
    return torch.cat([tensors[n].detach().reshape(-1).to(torch.float32) for n in names])


def f32(t):
    return struct.pack("<%df" % t.numel(), *t.tolist())


def adamw_groups(q, live, mup):
    """torch AdamW groups: decayed or not; under muP (MuAdamW) the hidden
    matrices get lr / w and weight_decay * w."""
    w = C / MUP_BASE
    groups = []
    for decayed in (True, False):
        for hidden in (True, False):
            names = [n for n in live if (n in DECAYED) == decayed and (n in HIDDEN) == hidden]
            if not names:
                continue
            wd = WD if decayed else 0.0
            lr = LR
            if mup and hidden:
                lr, wd = LR / w, wd * w
            groups.append({"params": [q[n] for n in names], "weight_decay": wd, "lr": lr})
    return groups


def generate(bias, path, mup=False):
    gen = torch.Generator().manual_seed(1234 + bias)
    w32 = make_weights(bias, gen)
    tok = torch.randint(0, V, (B, T), generator=gen)
    tgt = torch.randint(0, V, (B, T), generator=gen)
    names = [n for n, _ in layout(bias)]
    p = {n: w32[n].to(torch.float64).requires_grad_(True) for n in names}
    logits, loss = forward(p, tok, tgt, bias, mup)
    loss.backward()
    grads = {n: (p[n].grad if p[n].grad is not None else torch.zeros_like(p[n])) for n in names}
    params0 = flat(w32, names)

    # AdamW trajectory from the same weights, same batch
    q = {n: w32[n].to(torch.float64).requires_grad_(True) for n in names}
    live = [n for n in names if q[n].numel() > 0]
    if mup:
        groups = adamw_groups(q, live, mup)
    else:  # the groups the standard files were generated with
        groups = [{"params": [q[n] for n in live if n in DECAYED], "weight_decay": WD},
                  {"params": [q[n] for n in live if n not in DECAYED], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for _ in range(NSTEPS):
        opt.zero_grad()
        _, l = forward(q, tok, tgt, bias, mup)
        l.backward()
        losses.append(float(l))
        torch.nn.utils.clip_grad_norm_([q[n] for n in live], CLIP)
        opt.step()

    with open(path + ".tmp", "wb") as f:
        f.write(b"HPSGOLD\0")
        if mup:
            f.write(struct.pack("<12i", 2, V, T, C, L, NH, MLP, bias, B, params0.numel(), 1, MUP_BASE))
        else:
            f.write(struct.pack("<10i", 1, V, T, C, L, NH, MLP, bias, B, params0.numel()))
        f.write(struct.pack("<%di" % (B * T), *tok.reshape(-1).tolist()))
        f.write(struct.pack("<%di" % (B * T), *tgt.reshape(-1).tolist()))
        f.write(f32(params0))
        f.write(f32(logits.detach().reshape(-1).to(torch.float32)))
        f.write(struct.pack("<f", float(loss)))
        f.write(f32(flat(grads, names)))
        f.write(struct.pack("<i", NSTEPS))
        f.write(struct.pack("<6d", LR, BETAS[0], BETAS[1], EPS, WD, CLIP))
        f.write(struct.pack("<%df" % NSTEPS, *losses))
        f.write(f32(flat(q, names)))
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)
    print("%s: %d params, loss %.6f, adamw losses %s" %
          (path, params0.numel(), float(loss), " ".join("%.6f" % x for x in losses)))


def main():
    torch.use_deterministic_algorithms(True)
    here = os.path.dirname(os.path.abspath(__file__))
    for bias in (1, 0):
        generate(bias, os.path.join(here, "gpt_bias%d.bin" % bias))
    generate(1, os.path.join(here, "gpt_mup_bias1.bin"), mup=True)


if __name__ == "__main__":
    main()
