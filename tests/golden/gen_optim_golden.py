#!/usr/bin/python3
"""Golden values for tests/test_tr_optim.c and tests/test_tr_schedule.c from PyTorch.

Regenerate (torch 1.13 is in Debian's python3-torch; the `python3` on PATH may lack it):
    /usr/bin/python3 tests/golden/gen_optim_golden.py tests/golden
Writes optim_golden.txt and schedule_golden.txt. The C tests read them and need no Python.

optim_golden.txt: four parameter tensors in one flat buffer (two 2-D "matrices",
two 1-D "biases"), gradients per step from a noisy quadratic loss (they depend on
the parameters, so a wrong update changes later gradients in torch; the file keeps
the gradients torch computed so the C test can replay them), the lr changing each
step, clip_grad_norm_ active (some steps clipped, some not), weight decay on the
matrices only through param groups (or on all tensors for the *_wdall cases).
Format, one record per line, whitespace separated, floats as %.9e:
    optim-golden 1
    segs K                       then K lines: seg OFFSET NUMEL IS_MATRIX
    params N
    steps S
    init v_1 .. v_N              parameters before the first step
    case NAME                    then, for the case:
    cfg OPT lr_unused beta1 beta2 eps wd wd_all momentum nesterov dampening alpha centered max_norm
    step T LR NORM               pre-clip global norm torch reported
    grad g_1 .. g_N              pre-clip gradient of step T
    after p_1 .. p_N             parameters after step T
    end

schedule_golden.txt: torch.optim.lr_scheduler values, one case per line:
    sched NAME TOTAL BASE_LR k=v ... : lr_0 lr_1 ... lr_{TOTAL-1}
where lr_s is the lr the optimizer used at step s (scheduler.step() after each
optimizer.step(), as torch documents).
"""
import os
import sys
import warnings

import torch

STEPS = 8
SHAPES = [((6, 8), True), ((8,), False), ((5, 6), True), ((5,), False)]
MAX_NORM = 1.0


class Lion(torch.optim.Optimizer):
    """Reference Lion (Chen et al. 2023), as lion-pytorch's update_fn."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, wd = group['lr'], group['weight_decay']
            beta1, beta2 = group['betas']
            for p in group['params']:
                state = self.state[p]
                if 'exp_avg' not in state:
                    state['exp_avg'] = torch.zeros_like(p)
                exp_avg = state['exp_avg']
                p.mul_(1 - lr * wd)
                update = exp_avg.clone().mul_(beta1).add(p.grad, alpha=1 - beta1).sign_()
                p.add_(update, alpha=-lr)
                exp_avg.mul_(beta2).add_(p.grad, alpha=1 - beta2)


# name, optimizer, kwargs; C side reads the cfg line.
CASES = [
    ('sgd_plain', 'sgd', dict(momentum=0.0, nesterov=False, dampening=0.0, weight_decay=0.1)),
    ('sgd_nesterov', 'sgd', dict(momentum=0.9, nesterov=True, dampening=0.0, weight_decay=0.1)),
    ('sgd_dampening', 'sgd', dict(momentum=0.8, nesterov=False, dampening=0.3, weight_decay=0.1)),
    ('adam', 'adam', dict(betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)),
    ('adamw', 'adamw', dict(betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)),
    ('adamw_wdall', 'adamw', dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.2, wd_all=True)),
    ('rmsprop_plain', 'rmsprop', dict(alpha=0.99, eps=1e-8, weight_decay=0.1, momentum=0.0, centered=False)),
    ('rmsprop_centered', 'rmsprop', dict(alpha=0.9, eps=1e-8, weight_decay=0.1, momentum=0.9, centered=True)),
    ('lion', 'lion', dict(betas=(0.9, 0.99), weight_decay=0.5)),
    ('lion_wdall', 'lion', dict(betas=(0.95, 0.98), weight_decay=0.3, wd_all=True)),
]


def fmt(t):
    return ' '.join('%.9e' % x for x in t.detach().reshape(-1).tolist())


def make_optimizer(opt, groups, kw):
    if opt == 'sgd':
        return torch.optim.SGD(groups, lr=0.1, momentum=kw['momentum'], nesterov=kw['nesterov'],
                               dampening=kw['dampening'], foreach=False)
    if opt == 'adam':
        return torch.optim.Adam(groups, lr=0.1, betas=kw['betas'], eps=kw['eps'], foreach=False)
    if opt == 'adamw':
        return torch.optim.AdamW(groups, lr=0.1, betas=kw['betas'], eps=kw['eps'], foreach=False)
    if opt == 'rmsprop':
        return torch.optim.RMSprop(groups, lr=0.1, alpha=kw['alpha'], eps=kw['eps'],
                                   momentum=kw['momentum'], centered=kw['centered'], foreach=False)
    if opt == 'lion':
        return Lion(groups, lr=0.1, betas=kw['betas'])
    raise ValueError(opt)


def optim_golden(path):
    gen = torch.Generator().manual_seed(1234)
    init = [torch.randn(s, generator=gen, dtype=torch.float32) for s, _ in SHAPES]
    target = [torch.randn(s, generator=gen, dtype=torch.float32) for s, _ in SHAPES]
    noise = [[torch.randn(s, generator=gen, dtype=torch.float32) for s, _ in SHAPES] for _ in range(STEPS)]
    # Scale of the loss per step: the pre-clip norm moves across MAX_NORM.
    scales = [0.05, 0.3, 0.02, 0.5, 0.1, 0.04, 0.6, 0.08]
    lrs = [0.01, 0.02, 0.03, 0.025, 0.02, 0.015, 0.01, 0.005]
    n = sum(t.numel() for t in init)
    out = ['optim-golden 1', 'segs %d' % len(SHAPES)]
    off = 0
    for (s, is_mat), t in zip(SHAPES, init):
        out.append('seg %d %d %d' % (off, t.numel(), int(is_mat)))
        off += t.numel()
    out += ['params %d' % n, 'steps %d' % STEPS, 'init ' + ' '.join(fmt(t) for t in init)]
    for name, opt, kw in CASES:
        params = [t.clone().requires_grad_(True) for t in init]
        wd = kw.get('weight_decay', 0.0)
        wd_all = kw.get('wd_all', False)
        groups = [dict(params=[p], weight_decay=(wd if (is_mat or wd_all) else 0.0))
                  for p, (_, is_mat) in zip(params, SHAPES)]
        o = make_optimizer(opt, groups, kw)
        b = kw.get('betas', (0.0, 0.0))
        out.append('case ' + name)
        out.append('cfg %s %.9e %.9e %.9e %.9e %.9e %d %.9e %d %.9e %.9e %d %.9e' % (
            opt, 0.0, b[0], b[1], kw.get('eps', 0.0), wd, int(wd_all), kw.get('momentum', 0.0),
            int(kw.get('nesterov', False)), kw.get('dampening', 0.0), kw.get('alpha', 0.0),
            int(kw.get('centered', False)), MAX_NORM))
        for step in range(STEPS):
            o.zero_grad()
            loss = sum(0.5 * scales[step] * ((p - t) ** 2).sum() + scales[step] * (p * z).sum()
                       for p, t, z in zip(params, target, noise[step]))
            loss.backward()
            grads = ' '.join(fmt(p.grad) for p in params)
            norm = torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
            for g in o.param_groups:
                g['lr'] = lrs[step]
            o.step()
            out.append('step %d %.9e %.9e' % (step + 1, lrs[step], float(norm)))
            out.append('grad ' + grads)
            out.append('after ' + ' '.join(fmt(p) for p in params))
        out.append('end')
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')


def run_sched(make, total, base_lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1))
    o = torch.optim.SGD([p], lr=base_lr)
    s = make(o)
    lrs = []
    for _ in range(total):
        lrs.append(o.param_groups[0]['lr'])
        o.step()
        s.step()
    return lrs


def schedule_golden(path):
    S = torch.optim.lr_scheduler
    T = 200
    cases = [
        ('step', 'step_size=30 gamma=0.5', lambda o: S.StepLR(o, step_size=30, gamma=0.5)),
        ('multistep', 'milestones=40,90,150 gamma=0.3',
         lambda o: S.MultiStepLR(o, milestones=[40, 90, 150], gamma=0.3)),
        ('exponential', 'gamma=0.98', lambda o: S.ExponentialLR(o, gamma=0.98)),
        ('cosine', 'min_lr=0.001', lambda o: S.CosineAnnealingLR(o, T_max=T, eta_min=0.001)),
        ('cosine', 'min_lr=0.001 decay_steps=120',
         lambda o: S.CosineAnnealingLR(o, T_max=120, eta_min=0.001)),
        ('linear', 'min_lr=0.002', lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.02, total_iters=T)),
        ('linear', 'min_lr=0.0 decay_steps=150',
         lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=150)),
        ('one_cycle', 'max_lr=0.5 pct_start=0.3 div_factor=25 final_div_factor=10000',
         lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=T, pct_start=0.3, div_factor=25.0,
                                final_div_factor=1e4, anneal_strategy='cos', cycle_momentum=False)),
        ('one_cycle', 'max_lr=0 pct_start=0.25 div_factor=10 final_div_factor=100',
         lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=T, pct_start=0.25, div_factor=10.0,
                                final_div_factor=100.0, anneal_strategy='cos', cycle_momentum=False)),
        # Warm-up + cosine == SequentialLR(LinearLR warm-up, CosineAnnealingLR on the rest).
        ('cosine', 'warmup_steps=20 warmup_start_factor=0.1 min_lr=0.001',
         lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=20),
                                      S.CosineAnnealingLR(o, T_max=T - 20, eta_min=0.001)],
                                  milestones=[20])),
    ]
    out = []
    for name, kv, make in cases:
        lrs = run_sched(make, T)
        out.append('sched %s %d %.9e %s : %s' % (name, T, 0.1, kv, ' '.join('%.17g' % x for x in lrs)))
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(0)
    warnings.filterwarnings('ignore', category=UserWarning)  # SequentialLR's deprecation notice
    optim_golden(os.path.join(d, 'optim_golden.txt'))
    schedule_golden(os.path.join(d, 'schedule_golden.txt'))
    print('wrote %s/optim_golden.txt and %s/schedule_golden.txt (torch %s)' % (d, d, torch.__version__))


if __name__ == '__main__':
    main()
