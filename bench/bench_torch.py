#!/usr/bin/python3
"""bench_torch.py: PyTorch CPU training throughput of the shapes of `hpsweep bench`.

    /usr/bin/python3 bench/bench_torch.py [--model T|S|all] [--threads N|all] [--steps N] [--json]

The same model as trainer/tr_model.h (GPT-2 style, pre-LN, fused QKV, GELU tanh,
tied LM head, biases on, no dropout), the same training step as `hpsweep bench`:
forward, backward, clip_grad_norm_(1.0) and torch.optim.AdamW(foreach=True,
lr 1e-4, betas (0.9, 0.99) and eps 1e-8 as hpsweep's defaults, weight decay 0.1
on the 2-D weights wte, wpe, qkv, proj, fc, fcproj as tr_model's is_matrix),
on random tokens.
PyTorch gets its best CPU settings: torch.set_num_threads(N), one inter-op
thread, OMP_WAIT_POLICY=PASSIVE when N > 1 (set before torch is imported: the
script re-executes itself per thread count), no autograd anomaly checks.
Prints tokens/s per (model, threads): the median over timed steps after warm-up
(and, with --json, the best step too: on a shared machine the least disturbed),
and the peak RSS of the process that ran it (one process per (model, threads),
ru_maxrss: Python and libtorch included, as hpsweep bench's figure includes its
own binary and libraries).
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

MODELS = {  # name: (vocab, context, layers, heads, d_model, batch)
    "T": (256, 64, 4, 4, 128, 16),
    "S": (256, 256, 6, 6, 384, 8),
}


def run_one(name, threads, steps):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    V, T, L, NH, C, B = MODELS[name]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(C)
            self.qkv = nn.Linear(C, 3 * C)
            self.proj = nn.Linear(C, C)
            self.ln2 = nn.LayerNorm(C)
            self.fc = nn.Linear(C, 4 * C)
            self.fcproj = nn.Linear(4 * C, C)
            self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

        def forward(self, x):
            hs = C // NH
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q = q.view(B, T, NH, hs).transpose(1, 2)
            k = k.view(B, T, NH, hs).transpose(1, 2)
            v = v.view(B, T, NH, hs).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
            att = att.masked_fill(~self.mask, float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + self.proj(y)
            return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(V, C)
            self.wpe = nn.Embedding(T, C)
            self.blocks = nn.ModuleList([Block() for _ in range(L)])
            self.lnf = nn.LayerNorm(C)

        def forward(self, idx, tgt):
            x = self.wte(idx) + self.wpe(torch.arange(T))
            for b in self.blocks:
                x = b(x)
            logits = self.lnf(x) @ self.wte.weight.t()
            return F.cross_entropy(logits.view(-1, V), tgt.view(-1))

    torch.manual_seed(0)
    model = GPT()
    for n, p in model.named_parameters():  # GPT-2 init, like tr_model_init
        if n.endswith("weight") and p.dim() == 2:
            nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L) if "proj" in n else 0.02)
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.99), eps=1e-8, foreach=True)
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))
    times = []
    for i in range(steps + 2):  # 2 warm-up steps
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    return {"model": name, "threads": threads, "tokens_per_s": B * T / med,
            "tokens_per_s_best": B * T / times[0], "step_ms": med * 1e3,
            "step_ms_min": times[0] * 1e3, "loss": float(loss),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="all", choices=["T", "S", "all"])
    ap.add_argument("--threads", default="all")
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default T: 30, S: 8)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        steps = a.steps or (30 if a.model == "T" else 8)
        print(json.dumps(run_one(a.model, int(a.threads), steps)))
        return
    models = ["T", "S"] if a.model == "all" else [a.model]
    threads = [1, 2] if a.threads == "all" else [int(a.threads)]
    for m in models:
        for t in threads:
            env = dict(os.environ)
            env["OMP_NUM_THREADS"] = str(t)
            if t > 1:
                env["OMP_WAIT_POLICY"] = "PASSIVE"
            out = subprocess.run([sys.executable, __file__, "--child", "--model", m, "--threads",
                                  str(t), "--steps", str(a.steps)],
                                 env=env, check=True, capture_output=True, text=True).stdout
            r = json.loads(out)
            if a.json:
                print(json.dumps(r))
            else:
                print("torch  model %s threads %d: %9.0f tokens/s  (%.1f ms/step, peak RSS %.0f MB)" %
                      (m, t, r["tokens_per_s"], r["step_ms"], r["peak_rss_mb"]))


if __name__ == "__main__":
    main()
