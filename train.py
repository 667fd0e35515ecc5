"""Train StyleGAN with progressive growing, on CUDA when usable, else on the CPU.

    python train.py data --init_size 8                  # data/8, data/16, ... from resize.py
    python train.py data --ckpt checkpoint/last.model   # resume exactly where it stopped
    mpirun -np 2 python train.py data ...               # data parallel over processes
"""
import argparse
import math
import os
import sys

import numpy as np

from cli import UsageError, answer_help_before_jittor, run_cli, writable_folder
from training.options import training_parser


def parse_args(argv=None):
    parser = training_parser()
    return parser.parse_args(argv), typed_options(parser, argv)


def typed_options(parser, argv):
    """The options on the command line, also those typed with their default value (a resumed
    run that saved --lr 0.003 must take a typed --lr 0.001)."""
    untyped = object()
    parser.set_defaults(**{action.dest: untyped for action in parser._actions})
    return {key for key, value in vars(parser.parse_args(argv)).items() if value is not untyped}


answer_help_before_jittor(__name__, parse_args)
# the imports below start Jittor
from runtime import jt, select_device
from dataset import MultiResolutionDataset
from formats.checkpoints import (architecture_of, generator_state, infer_from_rgb_activate,
                                 infer_generator_config, read_checkpoint)
from model import step_of_size
from perceptual.inception import inception_weights
from training.augment import parse_policy
from training.loop import TrainingDiverged, train
from training.randomness import seed_everything
from training.signals import TrainingStopped
from training.state import TrainingState


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
    for name in ("workers", "stddev_group", "zoom", "freeze_d"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name} {getattr(args, name)}: must be 0 or more")
    if getattr(args, "fid_every", 0) < 0 or getattr(args, "fid_samples", 2) < 2:
        raise UsageError(f"--fid_every {args.fid_every} --fid_samples {args.fid_samples}: "
                         f"choose 0 or more iterations and 2 or more images")
    if getattr(args, "fid_every", 0):  # before training, not at the first FID
        inception_weights()
    if getattr(args, "augment", None):
        try:
            parse_policy(args.augment)
        except ValueError as error:
            raise UsageError(str(error)) from None
    strength = getattr(args, "augment_strength", 1.0)
    if not (math.isfinite(strength) and 0 <= strength <= 1):
        raise UsageError(f"--augment_strength {strength}: must be in [0, 1]")
    if not (math.isfinite(args.ada_target) and -1 < args.ada_target < 1):
        raise UsageError(f"--ada_target {args.ada_target}: must be between -1 and 1 (ADA: 0.6)")
    if not (math.isfinite(args.ada_kimg) and args.ada_kimg > 0):
        raise UsageError(f"--ada_kimg {args.ada_kimg}: must be a positive number (ADA: 500)")
    if args.freeze_d > step_of_size(args.max_size):
        raise UsageError(f"--freeze_d {args.freeze_d}: D has {step_of_size(args.max_size) + 1} "
                         f"blocks at {args.max_size} px; freeze fewer, so some still learn")
    if not 0 <= args.ema_decay < 1:
        raise UsageError(f"--ema_decay {args.ema_decay}: must be in [0, 1)")
    if args.batch < jt.world_size:
        raise UsageError(f"--batch {args.batch}: must be at least the number of MPI ranks")
    group = min(args.stddev_group, args.batch // jt.world_size)
    if group and (args.batch // jt.world_size) % group:
        raise UsageError(f"--stddev_group {args.stddev_group}: must divide the batch of each "
                         f"process ({args.batch // jt.world_size}); choose a --batch that is a "
                         f"multiple of {args.stddev_group * jt.world_size}, or --stddev_group 0")


def set_classes(args, dataset):
    """A conditional run (--cond, or a conditional file's) learns the data's classes, and
    draws its fakes' classes as often as the data has them."""
    from_file = getattr(args, "n_classes", 0) or 0
    if not args.cond and not from_file:
        args.n_classes = 0
        return
    names = dataset.class_names()
    if names is None:
        raise UsageError(f"{args.path}: no class labels for a conditional model; resize.py "
                         "keeps them from a dataset.json or one subfolder per class")
    if len(names) < 2:
        raise UsageError(f"{args.path}: one class only; a conditional model needs two or more")
    source = args.ckpt or args.from_ckpt
    if source and not from_file:
        raise UsageError(f"--cond: {source} is an unconditional model; train a conditional "
                         "one from scratch, or leave out --cond")
    if from_file and len(names) != from_file:
        raise UsageError(f"{args.path}: {len(names)} classes, but {source} was trained on "
                         f"{from_file}; give it data with as many classes")
    labels = dataset.source.labels(dataset.resolutions[-1])[0]
    dataset.labelled = True
    args.cond, args.n_classes, args.class_names = True, len(names), list(names)
    args.class_counts = [int(n) for n in np.bincount(labels, minlength=len(names))]


def adopt_architecture(args, explicit, checkpoint, path):
    """Build the networks a checkpoint was trained with, whatever the command line's
    defaults say; a recorded layout (NVIDIA's) also fixes latent size, mapping depth and
    D's stddev groups, and a file that was not ours trains on at its own size."""
    args.architecture = architecture_of(checkpoint) or None
    if not args.architecture:
        for key, value in infer_generator_config(generator_state(checkpoint, path)).items():
            if key not in explicit:
                setattr(args, key, value)
        if "discriminator" in checkpoint:
            args.no_from_rgb_activate = not infer_from_rgb_activate(checkpoint["discriminator"])
        return
    args.code_dim, args.n_mlp = args.architecture["code_dim"], args.architecture["n_mlp"]
    args.n_classes = args.architecture.get("n_classes", 0)
    if "stddev_group" not in explicit:
        args.stddev_group = args.architecture["stddev_group"]
    if "progress" not in checkpoint:
        size = int(checkpoint["meta"]["size"])
        for name in ("init_size", "max_size"):
            if name not in explicit:
                setattr(args, name, size)


def start_at_trained_size(args, explicit, checkpoint, path):
    """--from: the new run starts at the size the file was trained at, stable, and stays
    there unless --init_size or --max_size say otherwise."""
    if "init_size" not in explicit:
        if "size" not in (checkpoint.get("meta") or {}):
            raise UsageError(f"--from {path}: the file does not record the size it was "
                             f"trained at; give it with --init_size")
        args.init_size = int(checkpoint["meta"]["size"])
    if "max_size" not in explicit:
        args.max_size = args.init_size


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
    if args.ckpt and args.from_ckpt:
        raise UsageError("--ckpt resumes a run, --from starts a new one from a file's weights: "
                         "give one of them")
    source = args.ckpt or args.from_ckpt
    checkpoint = read_checkpoint(source) if source else {}
    args.architecture = None
    if source:  # with --from the shape is the file's, whatever is typed
        adopt_architecture(args, explicit - ({"width", "code_dim", "n_mlp"}
                                             if args.from_ckpt else set()), checkpoint, source)
    if args.from_ckpt:
        start_at_trained_size(args, explicit, checkpoint, args.from_ckpt)
    else:
        args = resumed_args(args, explicit, checkpoint)
    seed_everything(args.seed)
    dataset = MultiResolutionDataset(args.path, batch_size=args.batch, num_workers=args.workers,
                                     flip=not args.no_flip, seed=args.seed)
    validate(args, dataset)
    set_classes(args, dataset)
    if args.colour == "auto" and ("progress" in checkpoint or args.architecture
                                  or args.from_ckpt):
        args.colour = "grey" if checkpoint.get("meta", {}).get("grey") else "rgb"
    if args.colour == "auto":
        args.colour = "grey" if dataset.looks_grey() else "rgb"
        if args.colour == "grey" and jt.rank == 0:
            print(f"{args.path}: greyscale images, so the generator draws grey "
                  f"(--colour rgb to draw colour)", file=sys.stderr)
    state = TrainingState(args)
    if source:
        message = (state.restore(checkpoint, source) if args.ckpt
                   else state.start_from(checkpoint, source))
        if jt.rank == 0:
            print(f"{source}: {message}", file=sys.stderr)
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
