"""Fit latents to real images: the generator's own picture of them, to render and edit.

    python projector.py checkpoint/last.model face.png            # projected/face.png, ...
    python projector.py ffhq.pkl a.jpg b.jpg --space w+ --steps 1000

Optimises w (one per image) or w+ (one per layer) from the tracked w average, and the noise
maps, against LPIPS (plus pixel MSE with --mse), with the noise regularisation and
re-normalisation, the learning-rate ramp and the annealed latent noise of the StyleGAN
projectors. Writes per image: the reconstruction, target | reconstruction side by side,
and an .npz (latent, space, noise maps, size, final LPIPS and PSNR) that
`generate.py --latents` renders.
"""
import argparse
import math
import os

import numpy as np

from cli import UsageError, add_runtime_args, answer_help_before_jittor, run_cli, writable_folder
from imaging import image_grid, save_image_atomically


def output_stems(paths):
    """File names without extension, made unique (two photo.jpg in different folders)."""
    stems, seen = [], {}
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}_{seen[stem]}")
    return stems


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Project real images into a StyleGAN's latent space.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("ckpt", help="checkpoint: ours, StyleGAN-jittor's, rosinality's or NVIDIA's .pkl")
    parser.add_argument("images", nargs="+", help="image files to project")
    parser.add_argument("--space", choices=["w", "w+"], default="w",
                        help="one w per image, or one per AdaIN layer (closer fits, less editable)")
    parser.add_argument("--steps", type=int, default=1000, help="optimisation steps")
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate")
    parser.add_argument("--noise_regularize", type=float, default=1e5,
                        help="weight of the noise maps' autocorrelation penalty")
    parser.add_argument("--mse", type=float, default=0.0, help="weight of a pixel MSE term")
    parser.add_argument("--size", type=int, help="resolution; none given = the trained one")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same result")
    parser.add_argument("--out", default="projected", help="output folder")
    add_runtime_args(parser)
    return parser.parse_args(argv)


answer_help_before_jittor(__name__, parse_args)
# the imports below start Jittor
from runtime import select_device
from editing.projection import load_targets, project
from formats.checkpoints import load_generator
from rendering import choose_size


def check_arguments(args):
    if args.steps < 1:
        raise UsageError(f"--steps {args.steps}: must be at least 1")
    for name in ("lr", "noise_regularize", "mse"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value >= 0) or (name == "lr" and value == 0):
            raise UsageError(f"--{name} {value}: must be a {'positive' if name == 'lr' else 'non-negative'} number")
    for path in args.images:
        if not os.path.isfile(path):
            raise UsageError(f"{path}: no such image file")


def main(argv=None):
    from perceptual.lpips import LPIPS  # its weights load only once the arguments are good

    args = parse_args(argv)
    check_arguments(args)
    writable_folder(args.out, "--out")
    select_device(args.device)
    generator, checkpoint = load_generator(args.ckpt, unconditional_only="projector.py")
    step, alpha = choose_size(args.size, checkpoint, args.ckpt)
    targets = load_targets(args.images, 4 * 2**step)
    reconstructions, projection = project(
        generator, targets, step, alpha, LPIPS(), args.space, args.steps, args.lr,
        args.noise_regularize, args.mse, args.seed)
    written = []
    for index, stem in enumerate(output_stems(args.images)):
        base = os.path.join(args.out, stem)
        pair = np.stack([targets[index], reconstructions[index]])
        save_image_atomically(image_grid(reconstructions[index:index + 1], 1, padding=0), base + ".png")
        save_image_atomically(image_grid(pair, 2), base + "_side.png")
        projection.save(index, base + ".npz")
        written.append(base + ".npz")
        print(f"{args.images[index]}: LPIPS {projection.lpips[index]:.4f}, PSNR "
              f"{projection.psnr[index]:.2f} dB -> {base}.png, {base}_side.png, {base}.npz")
    return written


if __name__ == "__main__":
    run_cli(main)
