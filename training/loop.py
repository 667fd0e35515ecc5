"""The training loop, top to bottom: schedule, real images, D and G steps, averages, log,
samples and checkpoints, until --iters or a stop signal."""
import math
import os
import sys
import time

from tqdm import tqdm

from cli import progress_interval
from dataset import infinite_batches
from formats.checkpoints import save_checkpoint
from runtime import jt
from training.adaptive import adapt_probability
from training.augment import is_adaptive
from training.blocks_in_use import train_all_parameters
from training.distributed import fetch_losses
from training.log import TrainingLog
from training.monitor import TrainingMonitor, real_images, variety
from training.optimizers import set_learning_rate
from training.plot import draw_training_plot
from training.randomness import seed_iteration
from training.samples import save_samples
from training.schedule import plan_for
from training.signals import StopSignals, TrainingStopped
from training.steps import training_step


class TrainingDiverged(Exception):
    pass


def check_finite(losses, iteration):
    for name, value in losses.items():
        if not math.isfinite(value):
            raise TrainingDiverged(f"{name} became {value} at iteration {iteration}")


class Reporter:
    """The tqdm bar, the JSONL log and its plot, warnings and FID, on rank 0 only; figures
    fetched every log_every, the plot redrawn with every sample grid."""

    def __init__(self, state, dataset):
        self.enabled = jt.rank == 0
        self.state, self.dataset = state, dataset
        args = state.args
        self.monitor = TrainingMonitor(args.loss, self.real_variety)
        self.real_varieties = {}
        self.fid = None  # the Inception network loads at the first FID
        self.bar = tqdm(initial=state.iteration, total=args.iters, disable=not self.enabled,
                        dynamic_ncols=True, mininterval=progress_interval())
        self.log = (TrainingLog(os.path.join(args.checkpoint_dir, "log.jsonl"), state.iteration)
                    if self.enabled else None)
        self.plot_path = os.path.join(args.sample_dir, "plot.png")
        self.last_time, self.last_samples = time.time(), state.used_samples
        self.penalty = jt.zeros(1)  # with lazy regularisation: the latest one computed

    def real_variety(self, resolution):
        if resolution not in self.real_varieties:
            self.real_varieties[resolution] = variety(real_images(self.dataset, resolution))
        return self.real_varieties[resolution]

    def warn(self, found):
        for kind, message in found:
            self.bar.write(f"warning: {message}", file=sys.stderr)
            self.log.append({"iteration": self.state.iteration, "warning": kind,
                             "message": message})

    def update(self, plan, d_loss, g_loss, penalty, real_sign, skipped_images=0):
        self.bar.update(1)
        if penalty is not None:
            self.penalty = penalty
        if self.state.iteration % self.state.args.log_every:
            return
        losses = fetch_losses({"d_loss": d_loss, "g_loss": g_loss, "penalty": self.penalty,
                               "real_sign": real_sign})
        check_finite(losses, self.state.iteration)
        now = time.time()
        speed = (self.state.used_samples - self.last_samples) / max(now - self.last_time, 1e-9)
        self.last_time, self.last_samples = now, self.state.used_samples
        if not self.enabled:
            return
        adaptive = is_adaptive(getattr(self.state.args, "augment", None))
        ada = {"augment_p": self.state.augment_p} if adaptive else {}
        self.bar.set_description(
            f"{plan.resolution}px G: {losses['g_loss']:.3f} D: {losses['d_loss']:.3f} "
            f"Pen: {losses['penalty']:.3f} Alpha: {plan.alpha:.3f} "
            + (f"p: {self.state.augment_p:.3f} " if adaptive else "") + f"{speed:.1f} img/s",
            refresh=False)  # shown at the bar's next redraw, at its own interval
        self.log.append({"iteration": self.state.iteration,
                         "used_samples": self.state.used_samples, "size": plan.resolution,
                         "alpha": plan.alpha, "batch": plan.batch_size, "lr": plan.lr,
                         **losses, **ada, "img_per_s": speed, "time": now,
                         "skipped_images": skipped_images})
        self.warn(self.monitor.check_losses(losses, plan.resolution))

    def check_samples(self, images, plan):
        if self.enabled:
            self.warn(self.monitor.check_samples(images, plan.resolution))

    def measure_fid(self, plan):
        """FID of the EMA generator against the training images at this size, logged."""
        if not self.enabled:
            return
        from evaluation.fid import GeneratorFid

        args = self.state.args
        started = time.time()
        if self.fid is None:
            self.fid = GeneratorFid(args.path, args.fid_samples, seed=args.seed, progress=False,
                                    mirror=not args.no_flip)
        value, real_count = self.fid(self.state.g_running, plan.step, plan.alpha)
        seconds = time.time() - started
        self.bar.write(f"FID {value:.2f} at {plan.resolution} px, iteration "
                       f"{self.state.iteration} ({args.fid_samples} generated, {real_count} "
                       f"real images; {seconds:.0f} s)", file=sys.stderr)
        self.log.append({"iteration": self.state.iteration, "size": plan.resolution,
                         "fid": value, "fid_samples": args.fid_samples,
                         "fid_seconds": seconds})

    def draw_plot(self):
        if self.enabled and len(self.log.curves):
            draw_training_plot(self.log.curves, self.plot_path)

    def close(self):
        self.bar.close()


def grows(previous, plan):
    """A fade-in starts or ends: where the official code resets its optimizers (its level
    of detail crosses an integer)."""
    return plan.step != previous.step or (plan.alpha == 1.0) != (previous.alpha == 1.0)


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
    if getattr(args, "fid_every", 0) and iteration % args.fid_every == 0:
        reporter.measure_fid(plan)
    if iteration % args.sample_every == 0:
        images = save_samples(state, plan, os.path.join(args.sample_dir, f"{iteration:06d}.png"))
        reporter.check_samples(images, plan)
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


def train(state, dataset):
    args = state.args
    plan, batches, last_losses, stopped_by = plan_for(state), None, None, 0
    reporter = Reporter(state, dataset)
    try:
        with StopSignals() as stop:
            while state.iteration < args.iters:
                # --- this iteration's random draws, schedule and real images
                seed_iteration(args.seed, state.iteration)
                if batches is None or (plan.resolution, plan.batch_size) != \
                        (state.data_stream["resolution"], state.data_stream["batch"]):
                    if batches is not None:
                        batches.close()
                    batches = data_batches(state, dataset, plan)
                set_learning_rate(state.g_optimizer, plan.lr)
                set_learning_rate(state.d_optimizer, plan.lr)
                real, labels = next(batches), None
                if dataset.labelled:
                    real, labels = real
                state.data_stream["position"] += 1

                # --- D step, G step, EMA; with ADA, p tuned from r_t
                d_loss, penalty, g_loss, real_sign = training_step(state, real, plan, labels)
                state.used_samples += plan.batch_size
                state.iteration += 1
                if is_adaptive(getattr(args, "augment", None)):
                    adapt_probability(state, real_sign, plan.batch_size)

                # --- log, the next plan (and the official optimizer reset), samples, checkpoints
                reporter.update(plan, d_loss, g_loss, penalty, real_sign, len(dataset.skipped))
                previous_plan, plan = plan, plan_for(state)
                if getattr(args, "reset_optimizers_on_grow", False) and \
                        grows(previous_plan, plan):
                    state.g_optimizer.reset()
                    state.d_optimizer.reset()
                save_outputs(state, reporter, plan, previous_plan, d_loss, g_loss)
                last_losses = {"d_loss": d_loss, "g_loss": g_loss}

                # --- a stop signal, agreed over ranks
                stopped_by = stop.requested(state.iteration, args.log_every)
                if stopped_by:
                    break

            # --- the last state, saved
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
        train_all_parameters(state)
