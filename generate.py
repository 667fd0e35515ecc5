"""Sample grids, style-mixing grids and latent walks from any StyleGAN checkpoint.

    python generate.py checkpoint/FFHQ_80000.model            # style_mixing/sample.png, ...
    python generate.py checkpoint/last.model --truncation 0.5 --truncation_cutoff 8
    python generate.py checkpoint/last.model --interpolate 60  # interpolation.gif + frames
"""
import argparse
import os

import numpy as np

from runtime import UsageError, add_runtime_args, jt, run_cli, select_device, writable_folder
from checkpoint import load_generator, trained_resolution
from images import image_grid, save_image_atomically
from model import step_of_size, truncate

MEAN_STYLE_SAMPLES = 10_000


def choose_size(requested, checkpoint, path):
    """(step, alpha) to generate at: the trained size by default, never above it."""
    trained_size, trained_alpha = trained_resolution(checkpoint)
    size = requested or trained_size
    try:
        step = step_of_size(size)
    except ValueError:
        raise UsageError(f"--size {size}: must be a power of two from 4 to 1024") from None
    limit = trained_size if "meta" in checkpoint else 1024
    if size > limit:
        raise UsageError(f"--size {size}: {path} was trained up to {limit} px; "
                         f"choose --size {limit} or less")
    return step, trained_alpha if size == trained_size else 1.0


def mean_style(generator, checkpoint, rng):
    """The truncation centre: the tracked w average when the file has one, else the mean w
    of many random latents (as rosinality and StyleGAN-jittor compute it)."""
    if checkpoint.get("has_w_avg"):
        return generator.w_avg.reshape(1, -1)
    code_dim = generator.w_avg.shape[0]
    z = rng.randn(MEAN_STYLE_SAMPLES, code_dim).astype(np.float32)
    with jt.no_grad():
        return jt.concat([generator.mean_style(jt.array(chunk)) for chunk in
                          np.split(z, 10)]).mean(0, keepdims=True)


def make_noise(rng, count, step, per_layer=False):
    """Noise maps for blocks 0..step: one per block, or one per layer (NVIDIA's models)."""
    return [rng.randn(count, 1, 4 * 2**b, 4 * 2**b).astype(np.float32)
            for b in range(step + 1) for _ in range(2 if per_layer else 1)]


def stored_noise(choice, checkpoint, path):
    """The file's own noise maps (NVIDIA's pickles hold one per layer) for --noise stored,
    which is the default where a file has them; None means random maps."""
    maps = checkpoint.get("noise")
    if choice == "random" or (choice is None and not maps):
        return None
    if not maps:
        raise UsageError(f"--noise stored: {path} holds no noise maps (NVIDIA's pickles do); "
                         "use --noise random")
    return [np.asarray(m, dtype=np.float32) for m in maps]


class Renderer:
    """Batched generation with fixed settings (step, alpha, truncation, noise source)."""

    def __init__(self, generator, step, alpha, mean, psi, cutoff, batch, fixed_noise=None):
        self.generator, self.step, self.alpha, self.batch = generator, step, alpha, batch
        self.truncation = dict(mean_style=mean, style_weight=psi, truncation_cutoff=cutoff)
        self.fixed_noise = fixed_noise

    def noise(self, rng, count):
        per_layer = self.generator.generator.noise_per_layer
        if self.fixed_noise is None:
            return make_noise(rng, count, self.step, per_layer)
        used = (self.step + 1) * (2 if per_layer else 1)
        return [np.repeat(n[:1], count, 0) for n in self.fixed_noise[:used]]

    def __call__(self, latents, noise, mixing_range=(-1, -1), from_w=False):
        """latents: one array of z (or w), or a list of two for mixing; NCHW in [-1, 1]."""
        latents = latents if isinstance(latents, list) else [latents]
        images = []
        with jt.no_grad():
            for start in range(0, len(latents[0]), self.batch):
                part = slice(start, start + self.batch)
                codes = [jt.array(latent[part]) for latent in latents]
                styles = codes if from_w else [self.generator.style(code) for code in codes]
                images.append(self.generator.synthesize(
                    styles, [jt.array(n[part]) for n in noise], self.step, self.alpha,
                    mixing_range=mixing_range, **self.truncation).numpy())
        return np.concatenate(images)


class ProjectedLatents:
    """Latents and noise maps of projector.py's .npz files, as per-layer w (N, layers, D)."""

    def __init__(self, paths, code_dim):
        self.layer_w, self.noise, sizes = [], [], set()
        for path in paths:
            try:
                with np.load(path) as saved:
                    latent = np.asarray(saved["latent"], np.float32)
                    sizes.add(int(saved["size"]))
                    maps = [np.asarray(saved[f"noise_{k}"], np.float32)
                            for k in range(sum(name.startswith("noise_") for name in saved.files))]
            except (OSError, KeyError, ValueError) as error:
                raise UsageError(f"{path}: not a latent file of projector.py ({error})") from None
            if latent.shape[-1] != code_dim:
                raise UsageError(f"{path}: latent of size {latent.shape[-1]}, but the checkpoint's "
                                 f"w has {code_dim}: project with this checkpoint")
            self.layer_w.append(latent)
            self.noise.append(maps)
        if len(sizes) > 1:
            raise UsageError(f"--latents: files projected at different sizes ({sorted(sizes)} px)")
        self.size = sizes.pop()

    def styles(self, n_layers):
        """(N, n_layers, D): a w latent repeated per layer, a w+ one as it is."""
        return np.stack([np.repeat(w[None], n_layers, 0) if w.ndim == 1 else w[:n_layers]
                         for w in self.layer_w])

    def noise_maps(self):
        return [np.concatenate(maps) for maps in zip(*self.noise)]


def render_layers(generator, layer_w, noise, step, alpha, batch):
    """Images from per-layer w (N, layers, D): no mapping network, no truncation."""
    images = []
    with jt.no_grad():
        for start in range(0, len(layer_w), batch):
            part = slice(start, start + batch)
            styles = [jt.array(layer_w[part, layer]) for layer in range(layer_w.shape[1])]
            images.append(generator.generator(styles, [jt.array(n[part]) for n in noise],
                                              step, alpha).numpy())
    return np.concatenate(images)


def mixed_layers(target_w, source_w, mixing_range):
    """The target's per-layer w with the source's in the blocks of mixing_range."""
    low, high = mixing_range
    mixed = target_w.copy()
    for layer in range(target_w.shape[1]):
        if low <= layer // 2 <= high:
            mixed[:, layer] = source_w[:, layer]
    return mixed


def real_mixing_grid(generator, step, alpha, batch, latents, targets, mixing_range):
    """Top row: the projected images (sources); left column: targets (random samples or
    other projected images); each cell: the target with the source's styles in
    mixing_range, and the target's noise."""
    n_layers = 2 * (step + 1)
    source_w, source_noise = latents.styles(n_layers), latents.noise_maps()
    target_w, target_noise = targets
    size = 4 * 2**step
    rows = [np.concatenate([-np.ones((1, 3, size, size), np.float32),
                            render_layers(generator, source_w, source_noise, step, alpha, batch)])]
    target_images = render_layers(generator, target_w, target_noise, step, alpha, batch)
    count = len(source_w)
    for i in range(len(target_w)):
        row_w = np.repeat(target_w[i:i + 1], count, 0)
        row_noise = [np.repeat(n[i:i + 1], count, 0) for n in target_noise]
        mixed = render_layers(generator, mixed_layers(row_w, source_w, mixing_range), row_noise,
                              step, alpha, batch)
        rows.append(np.concatenate([target_images[i:i + 1], mixed]))
    return image_grid(np.concatenate(rows), count + 1)


def random_targets(render, rng, count):
    """Per-layer w (truncated as the samples are) and noise of `count` random images."""
    code_dim, n_layers = render.generator.w_avg.shape[0], 2 * (render.step + 1)
    z = rng.randn(count, code_dim).astype(np.float32)
    with jt.no_grad():
        w = render.generator.style(jt.array(z))
        layers = [w] * n_layers
        if render.truncation["mean_style"] is not None:
            layers = truncate(layers, render.truncation["mean_style"],
                              render.truncation["style_weight"],
                              render.truncation["truncation_cutoff"])
        layer_w = np.stack([layer.numpy() for layer in layers], 1)
    return layer_w, render.noise(rng, count)


def sample_grid(render, rng, code_dim, n_row, n_col):
    z = rng.randn(n_row * n_col, code_dim).astype(np.float32)
    return image_grid(render(z, render.noise(rng, len(z))), n_col)


def style_mixing_images(render, rng, code_dim, n_source, n_target, mixing_range):
    """Sources (n_source images), targets (n_target) and the mixed cells (n_target rows of
    n_source): each cell is its row's target with its column's source styles in
    mixing_range. Each row keeps its target's noise."""
    source = rng.randn(n_source, code_dim).astype(np.float32)
    target = rng.randn(n_target, code_dim).astype(np.float32)
    source_noise = render.noise(rng, n_source)
    target_noise = render.noise(rng, n_target)
    rows = []
    for i in range(n_target):
        row_noise = [np.repeat(n[i:i + 1], n_source, 0) for n in target_noise]
        rows.append(render([np.repeat(target[i:i + 1], n_source, 0), source], row_noise,
                           mixing_range=mixing_range))
    return render(source, source_noise), render(target, target_noise), np.stack(rows)


def style_mixing_grid(render, rng, code_dim, n_source, n_target, mixing_range):
    """Top row: sources; left column: targets; each cell: the target with the source's
    styles in mixing_range."""
    sources, targets, cells = style_mixing_images(render, rng, code_dim, n_source, n_target,
                                                  mixing_range)
    size = 4 * 2**render.step
    rows = [np.concatenate([-np.ones((1, 3, size, size), np.float32), sources])]
    rows += [np.concatenate([targets[i:i + 1], cells[i]]) for i in range(n_target)]
    return image_grid(np.concatenate(rows), n_source + 1)


def slerp(a, b, t):
    a_unit, b_unit = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(a_unit, b_unit), -1, 1))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def latent_walk(render, rng, code_dim, n_frames, space, n_keys=4):
    """A closed loop through n_keys random latents: slerp in z, or lerp in w; fixed noise."""
    keys = rng.randn(n_keys, code_dim).astype(np.float32)
    if space == "w":
        with jt.no_grad():
            keys = render.generator.style(jt.array(keys)).numpy()
    frames = []
    for f in range(n_frames):
        position = f * n_keys / n_frames
        a, b, t = keys[int(position)], keys[(int(position) + 1) % n_keys], position % 1
        frames.append(slerp(a, b, t) if space == "z" else (1 - t) * a + t * b)
    noise = [np.repeat(n, n_frames, 0) for n in render.noise(rng, 1)]
    return render(np.stack(frames).astype(np.float32), noise, from_w=space == "w")


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
    parser.add_argument("--batch", type=int, default=8, help="images per forward pass")
    parser.add_argument("--out", default="style_mixing", help="output folder")
    add_runtime_args(parser)
    return parser.parse_args(argv)


def coarse_blocks(step):
    """The default mixing range. In a 16 px model the 8 px block is a third of the model: with
    the 4 and 8 px styles from the source, every row of the demo's grids drew its source's
    digit and the rows barely differed; with the 4 px style alone they mix."""
    return (0, 1) if step >= 3 else (0, 0)


def check_counts(args):
    for name in ("n_row", "n_col", "batch"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} {getattr(args, name)}: must be at least 1")
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
    save_image_atomically(image_grid(images, len(images)), path)
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
                                args.mixing_range)
        save_image_atomically(grid, path)
        written.append(path)
        low, high = args.mixing_range
        lines.append(f"  real_mixing.png: blocks {low}-{high} of the top row's projected images "
                     f"in {what} (left column)")
    print(f"{latents.size} px: wrote into {args.out}/\n" + "\n".join(lines))
    return written


def main(argv=None):
    args = parse_args(argv)
    check_counts(args)
    if args.mixing_with and not args.latents:
        raise UsageError("--mixing_with needs --latents (files written by projector.py)")
    writable_folder(args.out, "--out")
    select_device(args.device)
    generator, checkpoint = load_generator(args.ckpt)
    if args.truncation_cutoff is None and (checkpoint.get("meta") or {}).get("source") == "official":
        args.truncation_cutoff = 8  # NVIDIA's default for its own models
    if args.latents:
        return write_latent_renders(args, generator, checkpoint, np.random.RandomState(args.seed))
    step, alpha = choose_size(args.size, checkpoint, args.ckpt)
    args.mixing_range = args.mixing_range or coarse_blocks(step)
    rng = np.random.RandomState(args.seed)
    code_dim = generator.w_avg.shape[0]
    fixed_noise = stored_noise(args.noise, checkpoint, args.ckpt)
    args.noise = "random" if fixed_noise is None else "stored"
    render = Renderer(generator, step, alpha, mean_style(generator, checkpoint, rng),
                      args.truncation, args.truncation_cutoff, args.batch, fixed_noise)
    written = [os.path.join(args.out, "sample.png")]
    gif = [os.path.join(args.out, "interpolation.gif")] if args.interpolate else []
    replaced = sum(map(os.path.exists, written + mixing_paths(args.out, args.n_mixing) + gif))
    save_image_atomically(sample_grid(render, rng, code_dim, args.n_row, args.n_col), written[0])
    for path in mixing_paths(args.out, args.n_mixing):
        grid = style_mixing_grid(render, rng, code_dim, args.n_col, args.n_row, args.mixing_range)
        save_image_atomically(grid, path)
        written.append(path)
    if args.interpolate:
        write_interpolation(latent_walk(render, rng, code_dim, args.interpolate, args.space),
                            args.out)
        written += gif
    print(summary(args, 4 * 2**step, replaced))
    return written


if __name__ == "__main__":
    run_cli(main)
