"""Sample grids, style-mixing grids and latent walks from any StyleGAN checkpoint.

    python generate.py checkpoint/FFHQ_80000.model            # style_mixing/sample.png, ...
    python generate.py checkpoint/last.model --truncation 0.5 --truncation_cutoff 8
    python generate.py checkpoint/last.model --interpolate 60  # interpolation.gif + frames
    python generate.py checkpoint/last.model --class all       # conditional: a row per class
    python generate.py checkpoint/last.model --seeds 0-99 --out images   # seed0000.png, ...
"""
import argparse
import os

import numpy as np

from cli import (UsageError, add_runtime_args, answer_help_before_jittor, number_ranges, run_cli,
                 writable_folder)
from imaging import grid_zoom, image_grid, save_image_atomically


def write_interpolation(images, out):
    frames = [image_grid(image[None], 1, padding=0) for image in images]
    for index, frame in enumerate(frames):
        save_image_atomically(frame, os.path.join(out, "interpolation", f"frame_{index:04d}.png"))
    save_image_atomically(frames[0], os.path.join(out, "interpolation.gif"), format="GIF",
                          save_all=True, append_images=frames[1:], duration=80, loop=0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Sample and style-mixing grids from a checkpoint.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("ckpt", help="checkpoint: ours, StyleGAN-jittor's, rosinality's or "
                                     "NVIDIA's .pkl")
    parser.add_argument("--size", type=int, help="resolution; none given = the trained one "
                                                 "(128 for checkpoints of other projects)")
    parser.add_argument("--n_row", type=int, default=5, help="rows of sample.png")
    parser.add_argument("--n_col", type=int, default=5, help="columns of sample.png")
    parser.add_argument("--n_mixing", type=int, default=3, help="style-mixing grids")
    parser.add_argument("--truncation", type=float, default=0.7, help="psi; 1 = off")
    parser.add_argument("--truncation_cutoff", type=int,
                        help="truncate only the first N AdaIN layers; none given = all "
                             "(official: 8)")
    parser.add_argument("--mixing_range", type=int, nargs=2, metavar=("A", "B"),
                        help="blocks that take the source's styles; none given = the coarse "
                             "ones: 0 1 (4 and 8 px, rosinality's) for models of 32 px and up, "
                             "0 0 for 8 and 16 px models")
    parser.add_argument("--interpolate", type=int, metavar="N", help="also an N-frame latent walk GIF")
    parser.add_argument("--latents", nargs="+", metavar="NPZ",
                        help="render latents from projector.py (latents.png) instead of samples")
    parser.add_argument("--mixing_with", metavar="random|NPZ", nargs="+",
                        help="with --latents: real_mixing.png, the projected images' styles in "
                             "--mixing_range mixed into random samples or other projected images")
    parser.add_argument("--space", choices=["z", "w"], default="z",
                        help="walk: spherical in z or linear in w")
    parser.add_argument("--noise", choices=["stored", "random"],
                        help="noise maps: the file's own (NVIDIA's pickles have them) or random; "
                             "none given = stored where the file has them")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same images")
    parser.add_argument("--class", dest="class_", metavar="K|NAME|all",
                        help="conditional models: the class to draw (its number or name); "
                             "all = sample.png with one row per class, mixing grid j of "
                             "class j")
    parser.add_argument("--seeds", metavar="A-B|A,B,...",
                        help="instead of grids: one PNG per seed, --out/seed0000.png ..., each "
                             "from its own seed (z = RandomState(seed).randn, then its noise)")
    parser.add_argument("--batch", type=int, default=8, help="images per forward pass")
    parser.add_argument("--out", default="style_mixing", help="output folder")
    parser.add_argument("--zoom", type=int, default=0,
                        help="grids enlarged N times (nearest neighbour); 0 = the least factor "
                             "that shows each image at 64 px or more")
    add_runtime_args(parser)
    return parser.parse_args(argv)


answer_help_before_jittor(__name__, parse_args)
# the imports below start Jittor
from runtime import select_device
from formats.checkpoints import load_generator
from rendering import (ProjectedLatents, Renderer, choose_size, coarse_blocks, latent_walk,
                       mean_style, random_targets, real_mixing_grid, render_layers, sample_grid,
                       stored_noise, style_mixing_grid)


def check_counts(args):
    for name in ("n_row", "n_col", "batch"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} {getattr(args, name)}: must be at least 1")
    if args.zoom < 0:
        raise UsageError(f"--zoom {args.zoom}: must be 0 (automatic) or more")
    if args.n_mixing < 0 or (args.interpolate is not None and args.interpolate < 2):
        raise UsageError("--n_mixing must be at least 0 and --interpolate at least 2")


def mixing_paths(out, count):
    return [os.path.join(out, f"sample_mixing_{j}.png") for j in range(count)]


def summary(args, size, replaced):
    """One line per kind of file written, and how many files of an earlier run were replaced."""
    lines = [f"{size} px, truncation {args.truncation:g}, {args.noise} noise, seed {args.seed}: "
             f"wrote into {args.out}/",
             f"  sample.png: {args.n_row} x {args.n_col} samples"]
    if args.n_mixing:
        low, high = args.mixing_range
        names = "sample_mixing_0.png" + (f" .. sample_mixing_{args.n_mixing - 1}.png"
                                         if args.n_mixing > 1 else "")
        lines.append(f"  {names}: style mixing, blocks {low}-{high} from the top row's images")
    if args.interpolate:
        lines.append(f"  interpolation.gif and interpolation/: a {args.interpolate}-frame walk "
                     f"in {args.space}")
    if replaced:
        lines.append(f"  ({replaced} of these files replaced ones from an earlier run; "
                     f"--out DIR writes elsewhere)")
    return "\n".join(lines)


def write_latent_renders(args, generator, checkpoint, rng):
    """--latents: the projected images, and with --mixing_with a real-image mixing grid."""
    latents = ProjectedLatents(args.latents, generator.w_avg.shape[0])
    step, alpha = choose_size(latents.size, checkpoint, args.ckpt)
    args.mixing_range = args.mixing_range or coarse_blocks(step)
    n_layers = 2 * (step + 1)
    path = os.path.join(args.out, "latents.png")
    images = render_layers(generator, latents.styles(n_layers), latents.noise_maps(), step,
                           alpha, args.batch)
    zoom = grid_zoom(latents.size, args.zoom)
    save_image_atomically(image_grid(images, len(images), zoom=zoom), path)
    written, lines = [path], [f"  latents.png: {len(images)} projected images"]
    if args.mixing_with:
        if args.mixing_with == ["random"]:
            render = Renderer(generator, step, alpha, mean_style(generator, checkpoint, rng),
                              args.truncation, args.truncation_cutoff, args.batch)
            targets = random_targets(render, rng, args.n_row)
            what = f"{args.n_row} random samples"
        else:
            others = ProjectedLatents(args.mixing_with, generator.w_avg.shape[0])
            if others.size != latents.size:
                raise UsageError("--mixing_with: projected at another size than --latents")
            targets = (others.styles(n_layers), others.noise_maps())
            what = f"{len(args.mixing_with)} projected images"
        path = os.path.join(args.out, "real_mixing.png")
        grid = real_mixing_grid(generator, step, alpha, args.batch, latents, targets,
                                args.mixing_range, zoom)
        save_image_atomically(grid, path)
        written.append(path)
        low, high = args.mixing_range
        lines.append(f"  real_mixing.png: blocks {low}-{high} of the top row's projected images "
                     f"in {what} (left column)")
    print(f"{latents.size} px: wrote into {args.out}/\n" + "\n".join(lines))
    return written


def parse_seeds(text):
    """"0-99" or "1,5,7" (or both mixed) -> the seeds, in order."""
    try:
        seeds = number_ranges(text)
    except ValueError:
        raise UsageError(f"--seeds {text}: give seeds as 0-99 or 1,5,7") from None
    if not seeds or min(seeds) < 0 or max(seeds) >= 2**32:
        raise UsageError(f"--seeds {text}: seeds are 0 to 4294967295, at least one")
    return seeds


def chosen_class(text, generator, checkpoint):
    """--class as a class number, "all", or None (unconditional models)."""
    n_classes = generator.n_classes
    names = list((checkpoint.get("meta") or {}).get("class_names") or [])
    if text is None:
        return None
    if not n_classes:
        raise UsageError(f"--class {text}: this model is unconditional (trained without --cond)")
    if text == "all":
        return "all"
    if text in names:
        return names.index(text)
    if text.isdigit() and int(text) < n_classes:
        return int(text)
    shown = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
    raise UsageError(f"--class {text}: the model has classes 0 to {n_classes - 1}"
                     + (f" ({shown})" if names else ""))


def write_seed_images(args, render, code_dim, classes):
    """--seeds: one PNG per seed, and nothing else."""
    if classes == "all":
        raise UsageError("--seeds draws one class: give --class K, not all")
    paths = []
    for seed in parse_seeds(args.seeds):
        rng = np.random.RandomState(seed)
        z = rng.randn(1, code_dim).astype(np.float32)
        image = render(z, render.noise(rng, 1), classes=classes)
        path = os.path.join(args.out, f"seed{seed:04d}.png")
        save_image_atomically(image_grid(image, 1, padding=0), path)
        paths.append(path)
    print(f"{4 * 2**render.step} px, truncation {args.truncation:g}: wrote {len(paths)} images "
          f"into {args.out}/ ({os.path.basename(paths[0])} ...)")
    return paths


def main(argv=None):
    args = parse_args(argv)
    check_counts(args)
    if args.seeds is not None:
        parse_seeds(args.seeds)  # before Jittor's work
    if args.mixing_with and not args.latents:
        raise UsageError("--mixing_with needs --latents (files written by projector.py)")
    writable_folder(args.out, "--out")
    select_device(args.device)
    generator, checkpoint = load_generator(args.ckpt)
    if args.truncation_cutoff is None and (checkpoint.get("meta") or {}).get("source") == "official":
        args.truncation_cutoff = 8  # NVIDIA's default for its own models
    if args.latents:
        return write_latent_renders(args, generator, checkpoint, np.random.RandomState(args.seed))
    classes = chosen_class(args.class_, generator, checkpoint)
    step, alpha = choose_size(args.size, checkpoint, args.ckpt)
    args.mixing_range = args.mixing_range or coarse_blocks(step)
    rng = np.random.RandomState(args.seed)
    code_dim = generator.w_avg.shape[0]
    fixed_noise = stored_noise(args.noise, checkpoint, args.ckpt)
    args.noise = "random" if fixed_noise is None else "stored"
    render = Renderer(generator, step, alpha, mean_style(generator, checkpoint, rng),
                      args.truncation, args.truncation_cutoff, args.batch, fixed_noise,
                      classes=None if classes == "all" else classes)
    if args.seeds is not None:
        return write_seed_images(args, render, code_dim, classes)
    if classes == "all":
        args.n_row = generator.n_classes
        render.classes = np.repeat(np.arange(args.n_row), args.n_col)
    written = [os.path.join(args.out, "sample.png")]
    gif = [os.path.join(args.out, "interpolation.gif")] if args.interpolate else []
    replaced = sum(map(os.path.exists, written + mixing_paths(args.out, args.n_mixing) + gif))
    zoom = grid_zoom(4 * 2**step, args.zoom)
    save_image_atomically(sample_grid(render, rng, code_dim, args.n_row, args.n_col, zoom),
                          written[0])
    for index, path in enumerate(mixing_paths(args.out, args.n_mixing)):
        if classes == "all":
            render.classes = index % generator.n_classes
        grid = style_mixing_grid(render, rng, code_dim, args.n_col, args.n_row, args.mixing_range,
                                 zoom)
        save_image_atomically(grid, path)
        written.append(path)
    if args.interpolate:
        if classes == "all":
            render.classes = 0
        write_interpolation(latent_walk(render, rng, code_dim, args.interpolate, args.space),
                            args.out)
        written += gif
    print(summary(args, 4 * 2**step, replaced))
    return written


if __name__ == "__main__":
    run_cli(main)
