#!/usr/bin/env python3
"""A small character-level GPT in PyTorch, logging through the wandb API.

Written for hpsweep's examples; it is an ordinary W&B training script: it uses only
wandb.init / wandb.config / wandb.log / run.summary / wandb.finish, so it runs unchanged
under `wandb agent` (with W&B installed) and under `hpsweep run` (hpsweep's wandb shim,
no W&B needed). See README.md beside it.

    /usr/bin/python3 train.py --lr=0.003 --batch_size=32          # by hand
    hpsweep run examples/pytorch/sweep.yaml                       # a sweep

Data: --data=FILE, else the repository's ../shared/data/tinyshakespeare.txt when it is
there, else a short built-in text (so it runs anywhere). Characters are the tokens; the
last 10% is the validation split.

Checkpoints: into --out, else $HPSWEEP_RUN_DIR (hpsweep's per-trial directory, kept
across retries and resumes); none when neither is set. A run that finds a checkpoint
there continues from it (the model, the optimizer, the step and the random state, so
the result is the one an uninterrupted run gives), after checking that its
hyperparameters are the same.

Threads: torch.set_num_threads($OMP_NUM_THREADS) when that is set (hpsweep sets it to
the trial's threads).
"""
import argparse
import math
import os
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # say which interpreter lacks it: a sweep's python3 may not be yours
    sys.exit("train.py needs PyTorch, which %s cannot import (%s). On Debian: apt-get install python3-torch,"
             " and run it with /usr/bin/python3 (examples/pytorch/README.md)." % (sys.executable, e))
try:
    import wandb
except ImportError:
    sys.exit("train.py logs through wandb: install it, or put hpsweep's clients/python first on PYTHONPATH"
             " for its offline shim (hpsweep run does that by itself).")

# The hyperparameters: each is a --NAME=VALUE flag and a wandb.config key.
DEFAULTS = {
    "lr": 3e-3,             # peak learning rate (AdamW)
    "batch_size": 32,       # sequences per step
    "block_size": 64,       # context length in characters
    "n_layer": 2,
    "n_head": 4,
    "n_embd": 64,
    "dropout": 0.0,
    "weight_decay": 0.1,    # on 2-D weights only
    "max_iters": 600,       # optimizer steps
    "warmup_iters": 50,     # linear warm-up, then cosine to lr / 10
    "eval_interval": 50,    # steps between evaluations (and checkpoints)
    "eval_iters": 10,       # validation batches per evaluation (the same ones every time)
    "seed": 1,
}
CKPT = "ckpt.pt"
HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_DATA = os.path.join("shared", "data", "tinyshakespeare.txt")

# The fallback corpus: Shakespeare's sonnets 18, 29, 116 and 130 (public domain).
BUILTIN_TEXT = """\
Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee.

When, in disgrace with fortune and men's eyes,
I all alone beweep my outcast state,
And trouble deaf heaven with my bootless cries,
And look upon myself and curse my fate,
Wishing me like to one more rich in hope,
Featured like him, like him with friends possess'd,
Desiring this man's art and that man's scope,
With what I most enjoy contented least;
Yet in these thoughts myself almost despising,
Haply I think on thee, and then my state,
Like to the lark at break of day arising
From sullen earth, sings hymns at heaven's gate;
For thy sweet love remember'd such wealth brings
That then I scorn to change my state with kings.

Let me not to the marriage of true minds
Admit impediments. Love is not love
Which alters when it alteration finds,
Or bends with the remover to remove:
O no! it is an ever-fixed mark
That looks on tempests and is never shaken;
It is the star to every wandering bark,
Whose worth's unknown, although his height be taken.
Love's not Time's fool, though rosy lips and cheeks
Within his bending sickle's compass come;
Love alters not with his brief hours and weeks,
But bears it out even to the edge of doom.
If this be error and upon me proved,
I never writ, nor no man ever loved.

My mistress' eyes are nothing like the sun;
Coral is far more red than her lips' red;
If snow be white, why then her breasts are dun;
If hairs be wires, black wires grow on her head.
I have seen roses damask'd, red and white,
But no such roses see I in her cheeks;
And in some perfumes is there more delight
Than in the breath that from my mistress reeks.
I love to hear her speak, yet well I know
That music hath a far more pleasing sound;
I grant I never saw a goddess go;
My mistress, when she walks, treads on the ground:
And yet, by heaven, I think my love as rare
As any she belied with false compare.
"""


def parse_args():
    ap = argparse.ArgumentParser(description="Train a small character-level GPT (see the module docstring).")
    for k, v in DEFAULTS.items():
        ap.add_argument("--" + k, type=type(v), default=v)
    ap.add_argument("--data", default=None, help="a UTF-8 text file (default: tiny Shakespeare, else built in)")
    ap.add_argument("--out", default=None, help="checkpoint directory (default: $HPSWEEP_RUN_DIR, else none)")
    return ap.parse_args()


def load_text(path):
    if path is not None:
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    d = HERE
    while True:  # the nearest shared/data/ beside the repository (or above it)
        d = os.path.dirname(d)
        if os.path.exists(os.path.join(d, SHARED_DATA)):
            with open(os.path.join(d, SHARED_DATA), encoding="utf-8") as f:
                return f.read(), os.path.join(d, SHARED_DATA)
        if d == os.path.dirname(d):
            return BUILTIN_TEXT, "the built-in text (4 sonnets)"


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention, then a 4x GELU MLP."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg.n_embd
        self.n_head = cfg.n_head
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(), nn.Linear(4 * C, C))
        self.drop = nn.Dropout(cfg.dropout)
        T = cfg.block_size
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.n_head)
        att = self.drop(att.masked_fill(self.mask[:T, :T], float("-inf")).softmax(-1))
        x = x + self.drop(self.proj((att @ v).transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.mlp(self.ln2(x)))


class GPT(nn.Module):
    def __init__(self, cfg, vocab):
        super().__init__()
        self.tok = nn.Embedding(vocab, cfg.n_embd)
        self.pos = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.Sequential(*[Block(cfg) for _ in range(cfg.n_layer)])
        self.ln = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, vocab, bias=False)
        self.head.weight = self.tok.weight  # tied
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, targets):
        T = idx.size(1)
        x = self.blocks(self.tok(idx) + self.pos.weight[:T])
        logits = self.head(self.ln(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def lr_at(cfg, it):
    """Linear warm-up to cfg.lr, then cosine down to cfg.lr / 10 at max_iters."""
    if it < cfg.warmup_iters:
        return cfg.lr * (it + 1) / cfg.warmup_iters
    r = min(1.0, (it - cfg.warmup_iters) / max(1, cfg.max_iters - cfg.warmup_iters))
    return cfg.lr / 10 + 0.5 * (1 + math.cos(math.pi * r)) * (cfg.lr - cfg.lr / 10)


def get_batch(data, cfg, gen):
    ix = torch.randint(len(data) - cfg.block_size - 1, (cfg.batch_size,), generator=gen)
    x = torch.stack([data[i:i + cfg.block_size] for i in ix])
    y = torch.stack([data[i + 1:i + cfg.block_size + 1] for i in ix])
    return x, y


def save_checkpoint(out, state):
    """Write ckpt.pt atomically: a run killed mid-write leaves the previous one intact."""
    tmp = os.path.join(out, CKPT + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, os.path.join(out, CKPT))


def load_checkpoint(out, hparams):
    path = os.path.join(out, CKPT) if out else None
    if not path or not os.path.exists(path):
        return None
    state = torch.load(path)
    diff = sorted(k for k in hparams if state["config"].get(k) != hparams[k])
    if diff:
        sys.exit("train.py: %s holds a run with other hyperparameters (%s); use another --out"
                 % (path, ", ".join("%s %r, not %r" % (k, state["config"].get(k), hparams[k]) for k in diff)))
    return state


def main():
    args = parse_args()
    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(max(1, int(os.environ["OMP_NUM_THREADS"])))
    run = wandb.init(project="hpsweep-char-gpt", config={k: getattr(args, k) for k in DEFAULTS})
    # wandb.config holds the sweep's values (W&B's or hpsweep's) over the flags'.
    hparams = {k: type(v)(wandb.config[k]) for k, v in DEFAULTS.items()}
    cfg = argparse.Namespace(**hparams)
    out = args.out or os.environ.get("HPSWEEP_RUN_DIR")
    if out:
        os.makedirs(out, exist_ok=True)

    text, source = load_text(args.data)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]
    if len(val) <= cfg.block_size + 1:
        sys.exit("train.py: %s is too short for block_size %d" % (source, cfg.block_size))

    torch.manual_seed(cfg.seed)
    model = GPT(cfg, len(chars))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(cfg.seed)
    eval_gen = torch.Generator().manual_seed(cfg.seed + 1)
    evals = [get_batch(val, cfg, eval_gen) for _ in range(cfg.eval_iters)]

    it, best, train_sum, train_n = 0, float("inf"), 0.0, 0
    state = load_checkpoint(out, hparams)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["rng"])
        it, best, train_sum, train_n = state["iter"], state["best"], state["train_sum"], state["train_n"]
        print("resumed from %s at step %d" % (os.path.join(out, CKPT), it), flush=True)
    nparams = sum(p.numel() for p in model.parameters())
    print("data: %s (%d characters, vocabulary %d); model: %d parameters; %d thread(s)"
          % (source, len(text), len(chars), nparams, torch.get_num_threads()), flush=True)
    wandb.define_metric("val_loss", summary="min")

    t0 = time.time()
    while True:
        if it % cfg.eval_interval == 0 or it == cfg.max_iters:
            model.eval()
            with torch.no_grad():
                val_loss = sum(model(x, y).item() for x, y in evals) / len(evals)
            model.train()
            best = min(best, val_loss)
            metrics = {"val_loss": val_loss, "lr": lr_at(cfg, min(it, cfg.max_iters - 1))}
            if train_n:
                metrics["train_loss"] = train_sum / train_n
            wandb.log(metrics, step=it, commit=True)
            train_text = "%.4f" % metrics["train_loss"] if train_n else "-"
            print("step %5d | train %s | val %.4f | %.1f s" % (it, train_text, val_loss, time.time() - t0), flush=True)
            train_sum, train_n = 0.0, 0
            if out:
                save_checkpoint(out, {"config": hparams, "iter": it, "best": best, "model": model.state_dict(),
                                      "opt": opt.state_dict(), "gen": gen.get_state(),
                                      "rng": torch.get_rng_state(), "train_sum": 0.0, "train_n": 0})
        if it >= cfg.max_iters:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, it)
        x, y = get_batch(train, cfg, gen)
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        train_sum, train_n = train_sum + loss.item(), train_n + 1
        it += 1

    run.summary["best_val_loss"] = best
    wandb.finish()
    print("best val_loss %.4f in %.1f s" % (best, time.time() - t0))


if __name__ == "__main__":
    main()
