"""Train StyleGAN with progressive growing, on CUDA when usable, else on the CPU.

    python train.py data --init_size 8                  # data/8, data/16, ... from resize.py
    python train.py data --ckpt checkpoint/last.model   # resume exactly where it stopped
    mpirun -np 2 python train.py data ...               # data parallel over processes
"""
import argparse
import json
import math
import os
import random
import signal
import sys
import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from runtime import (UsageError, add_runtime_args, jt, progress_interval, rank_share, run_cli,
                     seed_everything, select_device, writable_folder)
from checkpoint import (DISCRIMINATOR_LAYOUT, GENERATOR_LAYOUT, architecture_of, generator_state,
                        infer_from_rgb_activate, infer_generator_config, layout_options,
                        load_state, read_checkpoint, save_checkpoint)
from dataset import MultiResolutionDataset, infinite_batches
from images import image_grid, save_image_atomically
from losses import LOSSES, discriminator_loss, generator_loss
from model import (PRECISIONS, Discriminator, StyledGenerator, bf16_available, set_conv_precision,
                   step_of_size)
from plot import TrainingCurves, draw_training_plot, read_log

# rosinality's --sched: learning rate and batch size per resolution
SCHED_LR = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}
SCHED_BATCH = {4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 32, 256: 32}
EMA_DECAY = 0.999
W_AVG_BETA = 0.995
MAPPING_LR_MULT = 0.01
MIXING_PROBABILITY = 0.9
N_SAMPLE_ROWS, N_SAMPLE_COLS = 4, 8


@dataclass(frozen=True)
class Plan:
    """What the schedule prescribes at a given number of samples seen."""
    step: int
    alpha: float
    batch_size: int
    lr: float

    @property
    def resolution(self):
        return 4 * 2**self.step


def training_schedule(used_samples, init_step, max_step, phase, batch=32, lr=0.001, sched=False):
    """Each resolution fades in over `phase` samples, then trains stable for `phase` more.

    The first resolution has nothing to fade from (alpha 1); the last trains on forever.
    """
    step = min(init_step + used_samples // (2 * phase), max_step)
    into_step = used_samples - (step - init_step) * 2 * phase
    alpha = 1.0 if step == init_step else min(1.0, (into_step + 1) / phase)
    resolution = 4 * 2**step
    return Plan(step, alpha,
                SCHED_BATCH.get(resolution, batch) if sched else batch,
                SCHED_LR.get(resolution, lr) if sched else lr)


def plan_for(state):
    args = state.args
    return training_schedule(state.used_samples, step_of_size(args.init_size),
                             step_of_size(args.max_size), args.phase, args.batch, args.lr,
                             args.sched)


def trainable(module):
    return [p for p in module.parameters() if not p.is_stop_grad()]


def make_optimizers(generator, discriminator, lr):
    # the mapping network learns 100x slower, as in the paper
    g_optimizer = jt.optim.Adam([{"params": trainable(generator.generator), "lr_mult": 1.0},
                                 {"params": trainable(generator.style),
                                  "lr_mult": MAPPING_LR_MULT}], lr=lr, betas=(0.0, 0.99))
    d_optimizer = jt.optim.Adam([{"params": trainable(discriminator), "lr_mult": 1.0}],
                                lr=lr, betas=(0.0, 0.99))
    return g_optimizer, d_optimizer


def set_learning_rate(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_mult"]


def optimizer_state(optimizer):
    return {"n_step": optimizer.n_step,
            "groups": [{"lr": group.get("lr", optimizer.lr), "m": list(group["m"]),
                        "values": list(group["values"])} for group in optimizer.param_groups]}


def load_optimizer_state(optimizer, state, path):
    loaded = []
    for group, saved in zip(optimizer.param_groups, state["groups"]):
        group["lr"] = saved["lr"]
        for name in ("m", "values"):
            for var, array in zip(group[name], saved[name]):
                if tuple(var.shape) != tuple(np.shape(array)):
                    raise UsageError(f"{path}: optimizer state does not fit the model")
                loaded.append(var.update(jt.array(array)))
    jt.sync(loaded)
    optimizer.n_step = int(state["n_step"])


def accumulate(pairs, decay=EMA_DECAY):
    """EMA of the generator's weights; buffers such as w_avg are copied; parameters set
    aside by train_only_what_runs (which do not change) are skipped."""
    updated = []
    for ema_var, var in pairs:
        if ema_var.is_stop_grad():
            ema_var.update(var.detach())
        elif not var.is_stop_grad():
            ema_var.update(decay * ema_var + (1 - decay) * var.detach())
        else:
            continue
        updated.append(ema_var)
    # run now, so the lazy graph of the average does not grow across iterations
    jt.sync(updated)


def train_only_what_runs(state, plan):
    """Parameters of the blocks this step and alpha do not run (blocks not grown yet, the
    to_rgb/from_rgb layers of earlier sizes) get stop_grad, so Jittor's optimizers skip them
    (no gradient of zeros, no Adam update: with beta1 = 0 it would not move them anyway) and
    so does the EMA. The full-size model has 49M parameters; at 8 px a few million run.
    Not under MPI: Jittor's optimizer broadcasts every parameter lazily from rank 0, and a
    parameter no step reads would run its broadcast on one rank alone (ranks hang)."""
    if jt.in_mpi:
        return
    for model in (state.generator, state.discriminator):
        running = {id(p) for module in model.modules_in_use(plan.step, plan.alpha)
                   for p in module.parameters()}
        for group in (state.g_optimizer if model is state.generator
                      else state.d_optimizer).param_groups:
            for p in group["params"]:
                if id(p) in running:
                    p.start_grad()
                else:
                    p.stop_grad()


def network_options(args):
    """Generator and discriminator constructor options: from the command line, or from the
    layout a checkpoint records (NVIDIA's models: channel table, per-layer noise, ...)."""
    grey = args.colour == "grey"
    architecture = getattr(args, "architecture", None)
    if architecture:
        return ({**layout_options(architecture, GENERATOR_LAYOUT), "grey": grey},
                {**layout_options(architecture, DISCRIMINATOR_LAYOUT),
                 "stddev_group": args.stddev_group})
    return (dict(code_dim=args.code_dim, n_mlp=args.n_mlp, width=args.width, grey=grey),
            dict(from_rgb_activate=not args.no_from_rgb_activate, width=args.width,
                 stddev_group=args.stddev_group))


def resolved_precision(precision):
    if precision == "auto":
        return "bfloat16" if bf16_available() else "float32"
    if precision == "bfloat16" and not bf16_available():
        raise UsageError("--precision bfloat16: needs the CPU path on a CPU with AMX "
                         "(Intel Sapphire Rapids or later); use --precision float32")
    return precision


class TrainingState:
    """Models, EMA, optimizers, counters and args: saved and restored as one object."""

    def __init__(self, args):
        self.args = args
        set_conv_precision(resolved_precision(args.precision))
        g_options, d_options = network_options(args)
        self.generator = StyledGenerator(**g_options)
        self.discriminator = Discriminator(**d_options)
        self.g_running = StyledGenerator(**g_options)
        self.ema_pairs = list(zip(self.g_running.state_dict().values(),
                                  self.generator.state_dict().values()))
        accumulate(self.ema_pairs, decay=0)
        self.g_optimizer, self.d_optimizer = make_optimizers(
            self.generator, self.discriminator, args.lr)
        self.used_samples = 0
        self.iteration = 0
        # where the data stream of the current resolution and batch size stands
        self.data_stream = {"resolution": None, "batch": None, "position": 0}

    def meta(self):
        """What generate.py needs to know: the size and alpha the model is at, and whether
        it draws grey images."""
        plan = plan_for(self)
        meta = {"size": plan.resolution, "step": plan.step, "alpha": plan.alpha,
                "iteration": self.iteration, "grey": self.args.colour == "grey"}
        if getattr(self.args, "architecture", None):  # so every loader rebuilds this layout
            meta["architecture"] = self.args.architecture
        return meta

    def to_checkpoint(self):
        return {"generator": self.generator.state_dict(),
                "discriminator": self.discriminator.state_dict(),
                "g_running": self.g_running.state_dict(),
                "g_optimizer": optimizer_state(self.g_optimizer),
                "d_optimizer": optimizer_state(self.d_optimizer),
                "progress": {"iteration": self.iteration, "used_samples": self.used_samples,
                             "data_stream": dict(self.data_stream)},
                "args": vars(self.args),
                "meta": self.meta()}

    def restore(self, checkpoint, path):
        """Load what the checkpoint has; return a sentence saying what starts fresh."""
        g_state = generator_state(checkpoint, path, prefer_ema=False)
        load_state(self.generator, g_state, "generator", path)
        load_state(self.g_running, generator_state(checkpoint, path), "g_running", path)
        if "discriminator" not in checkpoint:
            return "loaded the generator only: discriminator, optimizers and progress start fresh"
        load_state(self.discriminator, checkpoint["discriminator"], "discriminator", path)
        if (checkpoint.get("meta") or {}).get("source") == "official":
            return (f"loaded NVIDIA's G, D and Gs (as the EMA generator, with its w average) "
                    f"for {plan_for(self).resolution} px; optimizers and progress start fresh")
        if "progress" not in checkpoint:
            return ("loaded generator, EMA generator and discriminator (not ours: "
                    "optimizers and progress start fresh)")
        load_optimizer_state(self.g_optimizer, checkpoint["g_optimizer"], path)
        load_optimizer_state(self.d_optimizer, checkpoint["d_optimizer"], path)
        self.iteration = int(checkpoint["progress"]["iteration"])
        self.used_samples = int(checkpoint["progress"]["used_samples"])
        stream = checkpoint["progress"].get("data_stream")  # absent in files before it
        if stream:
            self.data_stream = {"resolution": stream["resolution"], "batch": stream["batch"],
                                "position": int(stream["position"])}
        return f"resumed everything at iteration {self.iteration} ({self.used_samples} samples seen)"

    def broadcast(self):
        """Start every MPI rank from rank 0's weights."""
        for module in (self.generator, self.discriminator, self.g_running):
            module.mpi_param_broadcast(0)


def seed_iteration(seed, iteration):
    """Every random draw of an iteration (latents, noise, mixing points, penalty mixes)
    comes from (seed, iteration) alone, the same on every MPI rank: a resumed run draws what
    the uninterrupted one drew, and N ranks draw what one would (each takes its share)."""
    derived = int(np.random.SeedSequence([seed, iteration]).generate_state(1)[0])
    random.seed(derived)
    np.random.seed(derived)
    jt.set_seed(derived)


def generator_inputs(generator, plan, code_dim, mixing):
    """This rank's share of the latents (two with style mixing) and noise maps drawn for
    the global batch."""
    count = 2 if mixing and random.random() < MIXING_PROBABILITY else 1
    latents = [rank_share(jt.randn(plan.batch_size, code_dim)) for _ in range(count)]
    noise = [rank_share(maps) for maps in generator.make_noise(plan.batch_size, plan.step)]
    return (latents if count == 2 else latents[0]), noise


def discriminator_step(state, real, plan):
    args = state.args
    latents, noise = generator_inputs(state.generator, plan, args.code_dim, args.mixing)
    fake = state.generator(latents, noise=noise, step=plan.step, alpha=plan.alpha)
    every = args.penalty_every
    d_loss, penalty = discriminator_loss(args.loss, state.discriminator, real, fake,
                                         plan.step, plan.alpha, args.r1_gamma,
                                         penalty_scale=0 if state.iteration % every else every)
    state.d_optimizer.step(d_loss)
    return d_loss, penalty


def generator_step(state, plan):
    args = state.args
    latents, noise = generator_inputs(state.generator, plan, args.code_dim, args.mixing)
    fake = state.generator(latents, noise=noise, step=plan.step, alpha=plan.alpha)
    g_loss = generator_loss(args.loss, state.discriminator(fake, step=plan.step, alpha=plan.alpha))
    state.g_optimizer.step(g_loss)
    track_w_avg(state.generator, latents[0] if isinstance(latents, list) else latents)
    return g_loss


def training_step(state, real, plan):
    """One iteration's learning: D step, G step, EMA, on the blocks this plan runs."""
    train_only_what_runs(state, plan)
    d_loss, penalty = discriminator_step(state, real, plan)
    g_loss = generator_step(state, plan)
    accumulate(state.ema_pairs, state.args.ema_decay)
    return d_loss, penalty, g_loss


def track_w_avg(generator, z):
    with jt.no_grad():
        w_mean = generator.style(z).mean(0)
        if jt.in_mpi:
            w_mean = w_mean.mpi_all_reduce("mean")
        generator.update_w_avg(w_mean, W_AVG_BETA)


def fixed_sample_inputs(code_dim, step, seed, count=N_SAMPLE_ROWS * N_SAMPLE_COLS,
                        per_layer=False):
    """The same latents and noise at every sampling, so grids show progress over time;
    one noise map per block, or per layer (NVIDIA's layout)."""
    rng = np.random.RandomState(seed)
    z = rng.randn(count, code_dim).astype(np.float32)
    maps_per_block = 2 if per_layer else 1
    noise = []
    for index in range((step + 1) * maps_per_block):
        size = 4 * 2**(index // maps_per_block)
        noise.append(np.random.RandomState(seed + 1 + index).randn(count, 1, size, size)
                     .astype(np.float32))
    return z, noise


def save_samples(state, plan, path):
    z, noise = fixed_sample_inputs(state.args.code_dim, plan.step, state.args.seed,
                                   per_layer=state.g_running.generator.noise_per_layer)
    images = []
    with jt.no_grad():
        for start in range(0, len(z), N_SAMPLE_COLS):
            chunk = slice(start, start + N_SAMPLE_COLS)
            images.append(state.g_running(jt.array(z[chunk]),
                                          noise=[jt.array(n[chunk]) for n in noise],
                                          step=plan.step, alpha=plan.alpha).numpy())
    save_image_atomically(image_grid(np.concatenate(images), N_SAMPLE_COLS), path)


class TrainingDiverged(Exception):
    pass


def fetch_losses(losses):
    """Host values, averaged over MPI ranks: one rank's NaN makes every rank's mean NaN,
    so all ranks stop together instead of some waiting in the next collective."""
    if jt.in_mpi:
        losses = {k: v.mpi_all_reduce("mean") for k, v in losses.items()}
    return {k: v.item() for k, v in losses.items()}


def check_finite(losses, iteration):
    for name, value in losses.items():
        if not math.isfinite(value):
            raise TrainingDiverged(f"{name} became {value} at iteration {iteration}")


def trim_log(path, iteration):
    """Drop the records after `iteration`: a run resumed from an older checkpoint logs
    those iterations again."""
    with open(path) as log:
        lines = log.readlines()
    kept = [line for line in lines if _logged_iteration(line) <= iteration]
    if len(kept) < len(lines):
        temp_path = path + ".tmp"
        with open(temp_path, "w") as log:
            log.writelines(kept)
        os.replace(temp_path, path)


def _logged_iteration(line):
    try:
        return int(json.loads(line)["iteration"])
    except (ValueError, KeyError, TypeError):
        return -1  # a line cut short by a kill: kept, and skipped when read


class Reporter:
    """The tqdm bar, the JSONL log and its plot, on rank 0 only; figures fetched every
    log_every, the plot redrawn with every sample grid."""

    def __init__(self, state):
        self.enabled = jt.rank == 0
        self.state = state
        args = state.args
        self.bar = tqdm(initial=state.iteration, total=args.iters, disable=not self.enabled,
                        dynamic_ncols=True, mininterval=progress_interval())
        self.log_path = os.path.join(args.checkpoint_dir, "log.jsonl")
        self.plot_path = os.path.join(args.sample_dir, "plot.png")
        # a resumed run's plot shows the whole run, without the iterations it repeats
        if self.enabled and os.path.exists(self.log_path):
            trim_log(self.log_path, state.iteration)
        self.curves = (read_log(self.log_path) if self.enabled and os.path.exists(self.log_path)
                       else TrainingCurves())
        self.last_time, self.last_samples = time.time(), state.used_samples
        self.penalty = jt.zeros(1)  # with lazy regularisation: the latest one computed

    def update(self, plan, d_loss, g_loss, penalty, skipped_images=0):
        self.bar.update(1)
        if penalty is not None:
            self.penalty = penalty
        if self.state.iteration % self.state.args.log_every:
            return
        losses = fetch_losses({"d_loss": d_loss, "g_loss": g_loss, "penalty": self.penalty})
        check_finite(losses, self.state.iteration)
        now = time.time()
        speed = (self.state.used_samples - self.last_samples) / max(now - self.last_time, 1e-9)
        self.last_time, self.last_samples = now, self.state.used_samples
        if not self.enabled:
            return
        self.bar.set_description(
            f"{plan.resolution}px G: {losses['g_loss']:.3f} D: {losses['d_loss']:.3f} "
            f"Pen: {losses['penalty']:.3f} Alpha: {plan.alpha:.3f} {speed:.1f} img/s",
            refresh=False)  # shown at the bar's next redraw, at its own interval
        record = {"iteration": self.state.iteration, "used_samples": self.state.used_samples,
                  "size": plan.resolution, "alpha": plan.alpha, "batch": plan.batch_size,
                  "lr": plan.lr, **losses, "img_per_s": speed, "time": now,
                  "skipped_images": skipped_images}
        with open(self.log_path, "a") as log:
            log.write(json.dumps(record) + "\n")
        self.curves.add(record)

    def draw_plot(self):
        if self.enabled and len(self.curves):
            draw_training_plot(self.curves, self.plot_path)

    def close(self):
        self.bar.close()


def save_outputs(state, reporter, plan, previous_plan, d_loss, g_loss):
    """Samples and the plot, periodic checkpoints and one checkpoint as each resolution begins
    (rank 0 writes)."""
    args, iteration = state.args, state.iteration
    # one file per resolution, not one per 2 * --phase samples: the last resolution trains on,
    # and a long run would fill the disk with full training states
    new_step = plan.step != previous_plan.step
    saving = iteration % args.save_every == 0 or new_step
    if saving:  # never write a diverged state over a good one
        check_finite(fetch_losses({"d_loss": d_loss, "g_loss": g_loss}), iteration)
    if jt.rank != 0:
        return
    if iteration % args.sample_every == 0:
        save_samples(state, plan, os.path.join(args.sample_dir, f"{iteration:06d}.png"))
        reporter.draw_plot()
    if new_step:
        save_checkpoint(state.to_checkpoint(),
                        os.path.join(args.checkpoint_dir, f"train_step-{plan.step}.model"))
    if iteration % args.save_every == 0:
        save_last(state)
        ema = {**state.g_running.state_dict(), "meta": state.meta()}
        save_checkpoint(ema, os.path.join(args.checkpoint_dir, f"{iteration:06d}.model"))


def save_last(state):
    save_checkpoint(state.to_checkpoint(), os.path.join(state.args.checkpoint_dir, "last.model"))


def data_batches(state, dataset, plan):
    """Batches of the plan's resolution and batch size, from where the state's stream of
    them stands (0 when they are new)."""
    stream = state.data_stream
    if (stream["resolution"], stream["batch"]) != (plan.resolution, plan.batch_size):
        stream.update(resolution=plan.resolution, batch=plan.batch_size, position=0)
    dataset.set_resolution(plan.resolution, plan.batch_size)
    return infinite_batches(dataset, start=stream["position"])


class TrainingStopped(Exception):
    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM (a cluster's time limit) ask the loop to stop after the
    current iteration; signals that come while it saves change nothing."""

    def __init__(self):
        self.signum = 0

    def __enter__(self):
        self.previous = {s: signal.signal(s, self.handle) for s in (signal.SIGINT, signal.SIGTERM)}
        for signum in self.previous:
            # restart interrupted system calls: Jittor's C++ does not retry them (a signal
            # while it waited for its cache lock ended the process: "fcntl(lock_fd...) failed")
            signal.siginterrupt(signum, False)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            # after a stop request the process is on its way out: later signals wait for it
            signal.signal(signum, signal.SIG_IGN if self.signum else handler)

    def handle(self, signum, frame):
        if not self.signum:
            self.signum = signum
            if jt.rank == 0:
                print(f"\n{signal.Signals(signum).name}: stopping after this iteration to save",
                      file=sys.stderr)

    def requested(self, iteration, every):
        """The signal to stop for, agreed over MPI ranks so all stop at one iteration; they
        agree every `every` iterations (with the log's host sync), not at each one."""
        if not jt.in_mpi:
            return self.signum
        if iteration % every:
            return 0
        flags = np.array([self.signum == signal.SIGINT, self.signum == signal.SIGTERM], "float32")
        received = jt.array(flags).mpi_all_reduce("add").numpy()
        return signal.SIGINT if received[0] else signal.SIGTERM if received[1] else 0


def train(state, dataset):
    """The loop: schedule, sample real, D step, G step, EMA, log, save."""
    args = state.args
    plan, batches, last_losses, stopped_by = plan_for(state), None, None, 0
    reporter = Reporter(state)
    try:
        with StopSignals() as stop:
            while state.iteration < args.iters:
                seed_iteration(args.seed, state.iteration)
                if batches is None or (plan.resolution, plan.batch_size) != \
                        (state.data_stream["resolution"], state.data_stream["batch"]):
                    if batches is not None:
                        batches.close()
                    batches = data_batches(state, dataset, plan)
                set_learning_rate(state.g_optimizer, plan.lr)
                set_learning_rate(state.d_optimizer, plan.lr)
                real = next(batches)
                state.data_stream["position"] += 1
                d_loss, penalty, g_loss = training_step(state, real, plan)
                state.used_samples += plan.batch_size
                state.iteration += 1
                reporter.update(plan, d_loss, g_loss, penalty, len(dataset.skipped))
                previous_plan, plan = plan, plan_for(state)
                save_outputs(state, reporter, plan, previous_plan, d_loss, g_loss)
                last_losses = {"d_loss": d_loss, "g_loss": g_loss}
                stopped_by = stop.requested(state.iteration, args.log_every)
                if stopped_by:
                    break
            if last_losses:
                check_finite(fetch_losses(last_losses), state.iteration)
            if jt.rank == 0:
                save_last(state)
            if stopped_by:
                raise TrainingStopped(stopped_by)
    finally:
        reporter.close()
        if batches is not None:
            batches.close()  # stops its loader processes
        train_everything(state)


def train_everything(state):
    """Undo train_only_what_runs: the models leave train() as they came in."""
    for optimizer in (state.g_optimizer, state.d_optimizer):
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.start_grad()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Progressive-growing StyleGAN training.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("path", help="data root: resolution folders (data/8, data/16, ...) or LMDB")
    parser.add_argument("--init_size", type=int, default=8, help="first resolution")
    parser.add_argument("--max_size", type=int,
                        help="last resolution; none given = the largest in PATH")
    parser.add_argument("--phase", type=int, default=600_000,
                        help="samples to fade in a resolution, and as many to stabilise it")
    parser.add_argument("--lr", type=float, default=0.001, help="learning rate")
    parser.add_argument("--batch", type=int, default=32, help="batch size without --sched")
    parser.add_argument("--sched", action="store_true",
                        help="per-resolution learning rates and batch sizes (rosinality's)")
    parser.add_argument("--mixing", dest="mixing", action="store_true", default=True,
                        help="style mixing regularisation, probability 0.9")
    parser.add_argument("--no_mixing", dest="mixing", action="store_false",
                        help="no style mixing regularisation")
    parser.add_argument("--loss", choices=LOSSES, default="wgan-gp",
                        help="GAN loss; wgan-gp as rosinality (short runs on small data stay "
                             "diverse), r1 as the official FFHQ training")
    parser.add_argument("--r1_gamma", type=float, default=10.0,
                        help="R1 weight (the official FFHQ value)")
    parser.add_argument("--penalty_every", "--r1_every", type=int, default=1,
                        help="compute the gradient penalty (R1 or WGAN's) every N minibatches, "
                             "N times as strong (lazy regularisation, StyleGAN2); 1 = always")
    parser.add_argument("--ckpt", help="checkpoint to resume from (ours: exact; others: weights)")
    parser.add_argument("--no_from_rgb_activate", action="store_true",
                        help="no LeakyReLU after from_rgb (rosinality's default has one)")
    parser.add_argument("--width", type=int, default=512,
                        help="channels at low resolution; 512 = the full-size model")
    parser.add_argument("--code_dim", type=int, default=512, help="size of z and w")
    parser.add_argument("--n_mlp", type=int, default=8, help="mapping network layers")
    parser.add_argument("--stddev_group", type=int, default=0,
                        help="minibatch-stddev group size; 0 = whole batch, 4 = official")
    parser.add_argument("--ema_decay", type=float, default=EMA_DECAY,
                        help="EMA generator decay per iteration (both projects' value; lower "
                             "it for runs of a few thousand iterations)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--iters", type=int, default=3_000_000, help="iterations to stop at")
    parser.add_argument("--sample_every", type=int, default=100,
                        help="iterations between sample grids (and plots)")
    parser.add_argument("--save_every", type=int, default=10_000,
                        help="iterations between checkpoints")
    parser.add_argument("--log_every", type=int, default=10,
                        help="iterations between log lines")
    parser.add_argument("--workers", type=int, default=2, help="data loading processes")
    parser.add_argument("--no_flip", action="store_true", help="no random horizontal flips")
    parser.add_argument("--colour", choices=("auto", "rgb", "grey"), default="auto",
                        help="grey: the generator draws grey images; auto: grey when the data "
                             "is greyscale")
    parser.add_argument("--precision", choices=("auto",) + PRECISIONS, default="auto",
                        help="of the CPU convolutions' multiplications: bfloat16 (float32 "
                             "sums) runs on AMX, 1.35-2.15x faster per full-width iteration; "
                             "auto = bfloat16 where the CPU has AMX, else float32")
    parser.add_argument("--checkpoint_dir", default="checkpoint", help="where checkpoints go")
    parser.add_argument("--sample_dir", default="sample", help="where sample grids go")
    add_runtime_args(parser)
    args = parser.parse_args(argv)
    return args, typed_options(parser, argv)


def typed_options(parser, argv):
    """The options on the command line, also those typed with their default value (a resumed
    run that saved --lr 0.003 must take a typed --lr 0.001)."""
    untyped = object()
    parser.set_defaults(**{action.dest: untyped for action in parser._actions})
    return {key for key, value in vars(parser.parse_args(argv)).items() if value is not untyped}


def validate(args, dataset):
    if args.max_size is None:
        args.max_size = dataset.resolutions[-1]
    for name in ("init_size", "max_size"):
        size = getattr(args, name)
        if size < 4 or size > 1024 or size & (size - 1):
            raise UsageError(f"--{name} {size}: must be a power of two from 4 to 1024")
    if args.init_size > args.max_size:
        raise UsageError(f"--init_size {args.init_size} is above --max_size {args.max_size}")
    if args.architecture:
        largest = 4 * 2**(len(args.architecture["channels"]) - 1)
        if args.max_size > largest:
            raise UsageError(f"--max_size {args.max_size}: {args.ckpt} holds networks up to "
                             f"{largest} px; choose --max_size {largest} or less")
    for size in (4 * 2**s for s in range(step_of_size(args.init_size), step_of_size(args.max_size) + 1)):
        dataset.set_resolution(size)  # fails early, naming the resize.py command
    for name in ("phase", "batch", "iters", "sample_every", "save_every", "log_every",
                 "penalty_every", "width",
                 "code_dim", "n_mlp"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} {getattr(args, name)}: must be at least 1")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr {args.lr}: must be a positive number")
    if not (math.isfinite(args.r1_gamma) and args.r1_gamma >= 0):
        raise UsageError(f"--r1_gamma {args.r1_gamma}: must be 0 or more")
    for name in ("workers", "stddev_group"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name} {getattr(args, name)}: must be 0 or more")
    if not 0 <= args.ema_decay < 1:
        raise UsageError(f"--ema_decay {args.ema_decay}: must be in [0, 1)")
    if args.batch < jt.world_size:
        raise UsageError(f"--batch {args.batch}: must be at least the number of MPI ranks")
    group = min(args.stddev_group, args.batch // jt.world_size)
    if group and (args.batch // jt.world_size) % group:
        raise UsageError(f"--stddev_group {args.stddev_group}: must divide the batch of each "
                         f"process ({args.batch // jt.world_size}); choose a --batch that is a "
                         f"multiple of {args.stddev_group * jt.world_size}, or --stddev_group 0")


def adopt_architecture(args, explicit, checkpoint):
    """Build the networks a checkpoint was trained with, whatever the command line's
    defaults say; a recorded layout (NVIDIA's) also fixes latent size, mapping depth and
    D's stddev groups, and a file that was not ours trains on at its own size."""
    args.architecture = architecture_of(checkpoint) or None
    if not args.architecture:
        for key, value in infer_generator_config(generator_state(checkpoint, args.ckpt)).items():
            if key not in explicit:
                setattr(args, key, value)
        if "discriminator" in checkpoint:
            args.no_from_rgb_activate = not infer_from_rgb_activate(checkpoint["discriminator"])
        return
    args.code_dim, args.n_mlp = args.architecture["code_dim"], args.architecture["n_mlp"]
    if "stddev_group" not in explicit:
        args.stddev_group = args.architecture["stddev_group"]
    if "progress" not in checkpoint:
        size = int(checkpoint["meta"]["size"])
        for name in ("init_size", "max_size"):
            if name not in explicit:
                setattr(args, name, size)


def resumed_args(args, explicit, checkpoint):
    """A resumed run keeps its saved settings, except those typed on this command line."""
    saved = checkpoint.get("args") if "progress" in checkpoint else None
    if not saved:
        return args
    merged = {**vars(args), **{k: v for k, v in saved.items() if k not in explicit}}
    return argparse.Namespace(**merged)


def main(argv=None):
    args, explicit = parse_args(argv)
    select_device(args.device)
    checkpoint = read_checkpoint(args.ckpt) if args.ckpt else {}
    args.architecture = None
    if args.ckpt:
        adopt_architecture(args, explicit, checkpoint)
    args = resumed_args(args, explicit, checkpoint)
    seed_everything(args.seed)
    dataset = MultiResolutionDataset(args.path, batch_size=args.batch, num_workers=args.workers,
                                     flip=not args.no_flip, seed=args.seed)
    validate(args, dataset)
    if args.colour == "auto" and ("progress" in checkpoint or args.architecture):
        args.colour = "grey" if checkpoint.get("meta", {}).get("grey") else "rgb"
    if args.colour == "auto":
        args.colour = "grey" if dataset.looks_grey() else "rgb"
        if args.colour == "grey" and jt.rank == 0:
            print(f"{args.path}: greyscale images, so the generator draws grey "
                  f"(--colour rgb to draw colour)", file=sys.stderr)
    state = TrainingState(args)
    if args.ckpt:
        message = state.restore(checkpoint, args.ckpt)
        if jt.rank == 0:
            print(f"{args.ckpt}: {message}", file=sys.stderr)
    if jt.in_mpi:
        state.broadcast()
    if jt.rank == 0:
        writable_folder(args.checkpoint_dir, "--checkpoint_dir")
        writable_folder(args.sample_dir, "--sample_dir")
    try:
        train(state, dataset)
    except TrainingDiverged as error:
        raise UsageError(f"{error}; stopped without saving, so the last good checkpoint in "
                         f"{args.checkpoint_dir} stays (try a lower --lr)") from None
    except TrainingStopped as stopped:
        last = os.path.join(args.checkpoint_dir, "last.model")
        if jt.rank == 0:
            print(f"stopped by {stopped} at iteration {state.iteration}: saved {last}; resume "
                  f"with: python train.py {args.path} --ckpt {last}", file=sys.stderr)
        # Ctrl-C also reached the compiler pool Jittor forks at import: its SIGCHLD handler
        # turns their deaths into an error exit, and its exit handlers wait for them. All
        # is saved, so leave at once with the signal's status.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + stopped.signum)
    return state


if __name__ == "__main__":
    run_cli(main)
