"""Side-by-side figures against other projects: StyleGAN-jittor's training iteration, re-created
here from its train.py and run on its own model.py from the user's clone, and rosinality's
PyTorch step script run in its own process. Their code is not part of this project."""
import os
import subprocess
import sys
import time

import numpy as np


def load_peer_model(path):
    """StyleGAN-jittor's model.py (github.com/xUhEngwAng/StyleGAN-jittor, MIT licence), read
    from the user's clone: it is not part of this project."""
    import importlib.util

    if not os.path.isfile(path):  # one line, exit status 1
        raise SystemExit(f"error: --peer {path}: no such file; git clone "
                         f"https://github.com/xUhEngwAng/StyleGAN-jittor and give its model.py")
    spec = importlib.util.spec_from_file_location("stylegan_jittor_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PeerTraining:
    """StyleGAN-jittor's training iteration as its train.py runs it: D (softplus losses,
    R1 with gamma 10 on reals), then G with mixing 90% of the time, then the EMA copy."""

    def __init__(self, peer, code_dim, lr=0.001):
        from runtime import jt

        self.jt, self.code_dim = jt, code_dim
        self.generator = peer.StyledGenerator(code_dim=code_dim)
        self.discriminator = peer.Discriminator(from_rgb_activate=True)
        self.g_running = peer.StyledGenerator(code_dim)
        self.g_running.eval()
        self.d_optimizer = jt.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.0, 0.99))
        self.g_optimizer = jt.optim.Adam(self.generator.generator.parameters(), lr=lr,
                                         betas=(0.0, 0.99))
        self.g_optimizer.add_param_group({"params": self.generator.style.parameters(),
                                          "lr": lr * 0.01, "mult": 0.01})
        self.accumulate(0)

    def accumulate(self, decay=0.999):
        running = dict(self.g_running.named_parameters())
        for name, value in self.generator.named_parameters():
            if name in running:  # not the weights EqualLR's hook derives in a forward
                running[name].update(running[name] * decay + (1 - decay) * value.detach())

    def latents(self, batch):
        jt = self.jt
        if np.random.random() < 0.9:
            return [jt.randn(batch, self.code_dim), jt.randn(batch, self.code_dim)]
        return jt.randn(batch, self.code_dim)

    def iteration(self, real, step, alpha):
        jt = self.jt
        for p in self.generator.parameters():
            p.requires_grad = False
        real = real.clone()
        real.requires_grad = True
        real_scores = self.discriminator(real, step=step, alpha=alpha)
        gradient = jt.grad(real_scores.sum(), real)
        penalty = 5 * (gradient.reshape(gradient.shape[0], -1).norm(2, dim=1) ** 2).mean()
        fake = self.generator(self.latents(real.shape[0]), step=step, alpha=alpha)
        d_loss = (jt.nn.softplus(-real_scores).mean() + penalty
                  + jt.nn.softplus(self.discriminator(fake, step=step, alpha=alpha)).mean())
        self.d_optimizer.step(d_loss)
        for p in self.generator.parameters():
            p.requires_grad = True
        for p in self.discriminator.parameters():
            p.requires_grad = False
        fake = self.generator(self.latents(real.shape[0]), step=step, alpha=alpha)
        g_loss = jt.nn.softplus(-self.discriminator(fake, step=step, alpha=alpha)).mean()
        self.g_optimizer.step(g_loss)
        self.accumulate()
        for p in self.discriminator.parameters():
            p.requires_grad = True


def same_loop_iteration(generator, discriminator, optimizers, real, code_dim, step, alpha):
    """One loop for both projects' models: D with R1 on reals, G, Adam on all parameters."""
    from runtime import jt

    d_optimizer, g_optimizer = optimizers
    real = real.clone()
    real.start_grad()
    real_scores = discriminator(real, step=step, alpha=alpha)
    gradient = jt.grad(real_scores.sum(), real)
    penalty = 5 * (gradient.reshape(gradient.shape[0], -1).sqr().sum(1)).mean()
    fake = generator(jt.randn(real.shape[0], code_dim), step=step, alpha=alpha).detach()
    d_loss = (jt.nn.softplus(-real_scores).mean() + penalty
              + jt.nn.softplus(discriminator(fake, step=step, alpha=alpha)).mean())
    d_optimizer.step(d_loss)
    fake = generator(jt.randn(real.shape[0], code_dim), step=step, alpha=alpha)
    g_loss = jt.nn.softplus(-discriminator(fake, step=step, alpha=alpha)).mean()
    g_optimizer.step(g_loss)


def bench_versus_jittor(args):
    """Ours against StyleGAN-jittor in one process, alternating, at each size: each project's
    own training iteration, then both models in one identical loop."""
    from runtime import jt, select_device
    from convolution import precision
    from model import step_of_size
    from training.blocks_in_use import train_all_parameters
    from training.options import default_training_args
    from training.randomness import seed_everything
    from training.schedule import Plan
    from training.state import TrainingState
    from training.steps import training_step

    peer = load_peer_model(args.peer)
    select_device(args.device)
    seed_everything(0)
    ours = TrainingState(default_training_args(
        batch=args.batch, loss="r1", mixing=True, code_dim=args.code_dim,
        penalty_every=args.penalty_every, precision=args.precision))
    theirs = PeerTraining(peer, args.code_dim)
    print(f"our convolutions: {precision()}; StyleGAN-jittor's: float32", flush=True)

    def adam(module):
        return jt.optim.Adam(module.parameters(), lr=0.001, betas=(0.0, 0.99))

    our_optimizers = [adam(ours.discriminator), adam(ours.generator)]
    their_optimizers = [adam(theirs.discriminator), adam(theirs.generator)]

    def our_iteration(real, step, alpha):
        training_step(ours, real, Plan(step, alpha, args.batch, 0.001))
        ours.iteration += 1  # where lazy regularisation counts

    def our_model_in_the_same_loop(real, step, alpha):
        train_all_parameters(ours)  # the identical loop trains every parameter
        same_loop_iteration(ours.generator, ours.discriminator, our_optimizers, real,
                            args.code_dim, step, alpha)

    def their_model_in_the_same_loop(real, step, alpha):
        same_loop_iteration(theirs.generator, theirs.discriminator, their_optimizers, real,
                            args.code_dim, step, alpha)

    runs = {("own loop", "ours"): our_iteration, ("own loop", "theirs"): theirs.iteration,
            ("same loop", "ours"): our_model_in_the_same_loop,
            ("same loop", "theirs"): their_model_in_the_same_loop}

    def seconds_per_iteration(run, real, step):
        jt.sync_all(True)
        started = time.time()
        for _ in range(args.iters):
            run(real, step, 1.0)
        jt.sync_all(True)
        return (time.time() - started) / args.iters

    for size in args.sizes:
        step = step_of_size(size)
        real = jt.array(np.random.RandomState(0).uniform(-1, 1, (args.batch, 3, size, size))
                        .astype(np.float32)).stop_grad()
        for run in runs.values():  # compile every graph before timing
            run(real, step, 1.0)
            run(real, step, 1.0)
        times = {key: [] for key in runs}
        for _ in range(args.rounds):
            for key, run in runs.items():
                times[key].append(seconds_per_iteration(run, real, step))
        for loop in ("own loop", "same loop"):
            mine, peer_time = (np.median(times[(loop, who)]) for who in ("ours", "theirs"))
            print(f"{size:3d} px, batch {args.batch}, {loop}: ours {args.batch / mine:.2f} img/s, "
                  f"StyleGAN-jittor {args.batch / peer_time:.2f} img/s, ratio "
                  f"{peer_time / mine:.2f}x (medians of {args.rounds} alternating rounds of "
                  f"{args.iters} iterations; ratios per round "
                  + " ".join(f"{t / m:.2f}" for m, t in zip(times[(loop, "ours")],
                                                         times[(loop, "theirs")])) + ")",
                  flush=True)


def run_for_figures(command, patterns, environment=None):
    """Run a benchmark in its own process (its memory and compiled state apart from the
    others); the numbers its output gives for `patterns`, or Nones if it failed."""
    import re

    done = subprocess.run(command, capture_output=True, text=True,
                          env=dict(os.environ, **(environment or {})))
    found = [re.search(pattern, done.stdout) for pattern in patterns]
    if done.returncode != 0 or not all(found):
        print(f"  {' '.join(command)} failed: {(done.stderr or done.stdout).strip()[-300:]}")
        return [None] * len(patterns)
    return [float(match[1]) for match in found]


def bench_versus_pytorch(args):
    """One training iteration (D with R1, G with mixing), ours against a PyTorch peer's step
    script (rosinality_step.py in the shared reference, which reads SIZE, BATCH, ITERS and
    DEVICE and prints img/s=... peak_mem=...GiB), each size in fresh processes, same device."""
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"{'size':>6} {'ours img/s':>11} {'peer img/s':>11} {'ratio':>6}  peer peak memory")
    for size in args.sizes:
        [ours] = run_for_figures(
            [sys.executable, os.path.join(project, "benchmark.py"), "train", "--size", str(size),
             "--batch", str(args.batch), "--iters", str(args.iters), "--width", str(args.width),
             "--code_dim", str(args.code_dim), "--device", args.device],
            [r"= ([0-9.]+) img/s at alpha 1"])
        peer, memory = run_for_figures(
            [args.python, args.peer], [r"img/s=([0-9.]+)", r"peak_mem=([0-9.]+|nan)GiB"],
            {"SIZE": str(size), "BATCH": str(args.batch), "ITERS": str(args.iters),
             "DEVICE": args.device})
        ratio = f"{ours / peer:.2f}x" if ours and peer else "-"
        print(f"{size:>4}px {ours or float('nan'):>11.1f} {peer or float('nan'):>11.1f} "
              f"{ratio:>6}  {'-' if memory is None else f'{memory:.2f} GiB'}")
