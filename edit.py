"""Latent directions: find one from labelled latents, then move images along it.

    python edit.py direction CKPT --labels labels.csv --positive smiling --out smile.npy
    python edit.py direction checkpoint/last.model --digits --positive 3 --out to3.npy
    python edit.py apply CKPT projected/face.npz --direction smile.npy --strengths -3 0 3

A direction is the difference of the mean w of the positive latents and of the others,
scaled so that strength 1 is one standard deviation of the latents along it. With
--digits (the demo set), latents are sampled and labelled by digits.py's classifier, and
the direction is measured on fresh samples: how many move to the positive class.
"""
import argparse
import csv
import os

import numpy as np

from runtime import UsageError, add_runtime_args, jt, run_cli, select_device, writable_folder
from checkpoint import load_generator, trained_resolution
from generate import ProjectedLatents, choose_size, make_noise, render_layers
from images import image_grid, save_image_atomically
from model import step_of_size


def mean_difference_direction(w, positive):
    """Unit direction from the others' mean w to the positives', times the spread of w
    along it (so strengths read in standard deviations)."""
    if positive.all() or not positive.any():
        raise UsageError("the labels need both positive and other latents")
    difference = w[positive].mean(0) - w[~positive].mean(0)
    unit = difference / np.linalg.norm(difference)
    return (unit * (w @ unit).std()).astype(np.float32)


def read_labels(path, code_dim):
    """w latents (N, D; a w+ latent counts as its mean over layers) and labels from a CSV
    of `latent.npz,label` rows (paths relative to the CSV's folder)."""
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such labels file")
    folder = os.path.dirname(os.path.abspath(path))
    with open(path, newline="") as stream:
        rows = [row for row in csv.reader(stream) if row and not row[0].startswith("#")]
    if not rows or any(len(row) != 2 for row in rows):
        raise UsageError(f"{path}: expected rows of 'latent.npz,label'")
    files = [os.path.join(folder, row[0].strip()) for row in rows]
    latents = ProjectedLatents(files, code_dim)
    w = np.stack([lw if lw.ndim == 1 else lw.mean(0) for lw in latents.layer_w])
    return w, np.array([row[1].strip() for row in rows])


def sampled_w(generator, count, rng):
    z = rng.randn(count, generator.w_avg.shape[0]).astype(np.float32)
    with jt.no_grad():
        return np.concatenate([generator.style(jt.array(part)).numpy()
                               for part in np.array_split(z, max(1, count // 256))])


def digit_probabilities(generator, layer_w, step, alpha, rng, classifier):
    """The digits.py classifier's class probabilities for images drawn from per-layer w."""
    from digits import image_probabilities

    noise = make_noise(rng, len(layer_w), step, generator.generator.noise_per_layer)
    return image_probabilities(classifier, render_layers(generator, layer_w, noise, step, alpha,
                                                         batch=128))


def shifted(layer_w, direction, strength):
    return layer_w + strength * direction


def digit_direction(generator, checkpoint, positive, samples, seed):
    """A direction toward digit `positive`, from sampled latents the classifier labels, and
    its effect on fresh samples at strength 3."""
    from digits import trained_classifier

    size, alpha = trained_resolution(checkpoint)
    step = step_of_size(size)
    n_layers = 2 * (step + 1)
    rng = np.random.RandomState(seed)
    classifier = trained_classifier()
    w = sampled_w(generator, samples, rng)
    layer_w = np.repeat(w[:, None], n_layers, 1)
    probabilities = digit_probabilities(generator, layer_w, step, alpha, rng, classifier)
    direction = mean_difference_direction(w, probabilities.argmax(1) == positive)
    fresh = np.repeat(sampled_w(generator, 512, rng)[:, None], n_layers, 1)
    noise_seed = rng.randint(2**31)
    before = digit_probabilities(generator, fresh, step, alpha,
                                 np.random.RandomState(noise_seed), classifier)
    after = digit_probabilities(generator, shifted(fresh, direction, 3.0), step, alpha,
                                np.random.RandomState(noise_seed), classifier)
    others = np.arange(10) != positive
    moved = before.argmax(1) != positive
    report = {"labelled": int((probabilities.argmax(1) == positive).sum()),
              "moved_to_positive": float((after.argmax(1)[moved] == positive).mean()),
              "positive_probability": (float(before[:, positive].mean()),
                                       float(after[:, positive].mean())),
              "other_classes_change": float(np.abs(after[:, others] - before[:, others])
                                            .sum(1).mean())}
    return direction, report


def edit_strip(generator, latents, direction, strengths, step, alpha, batch=8):
    """Rows: the projected images; columns: each moved by one strength (its own noise)."""
    n_layers = 2 * (step + 1)
    layer_w, noise = latents.styles(n_layers), latents.noise_maps()
    columns = [render_layers(generator, shifted(layer_w, direction, s), noise, step, alpha, batch)
               for s in strengths]
    return np.stack(columns, 1).reshape(-1, *columns[0].shape[1:])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    find = sub.add_parser("direction", help="a direction from labelled latents")
    find.add_argument("ckpt")
    source = find.add_mutually_exclusive_group(required=True)
    source.add_argument("--labels", help="CSV of 'latent.npz,label' rows (projector.py files)")
    source.add_argument("--digits", action="store_true",
                        help="demo set: sample latents and label them with digits.py's classifier")
    find.add_argument("--positive", required=True, help="the label to move toward")
    find.add_argument("--samples", type=int, default=4096, help="with --digits: latents to label")
    find.add_argument("--out", default="direction.npy", help=".npy file to write")
    apply = sub.add_parser("apply", help="render projected latents moved along a direction")
    apply.add_argument("ckpt")
    apply.add_argument("latents", nargs="+", help="projector.py .npz files")
    apply.add_argument("--direction", required=True, help=".npy from edit.py direction")
    apply.add_argument("--strengths", type=float, nargs="+", default=[-3, -1.5, 0, 1.5, 3])
    apply.add_argument("--out", default="edit.png", help="PNG to write")
    for command in (find, apply):
        command.add_argument("--seed", type=int, default=0)
        add_runtime_args(command)
    return parser.parse_args(argv)


def find_direction(args):
    generator, checkpoint = load_generator(args.ckpt)
    code_dim = generator.w_avg.shape[0]
    if args.digits:
        if not args.positive.isdigit() or not 0 <= int(args.positive) <= 9:
            raise UsageError(f"--positive {args.positive}: with --digits, a digit 0-9")
        if args.samples < 20:
            raise UsageError(f"--samples {args.samples}: must be at least 20")
        direction, report = digit_direction(generator, checkpoint, int(args.positive),
                                            args.samples, args.seed)
        print(f"{report['labelled']} of {args.samples} samples labelled {args.positive}; on 512 "
              f"fresh samples at strength 3: {report['moved_to_positive']:.1%} of those not "
              f"drawing {args.positive} now do, its mean probability "
              f"{report['positive_probability'][0]:.3f} -> {report['positive_probability'][1]:.3f}, "
              f"the other classes' probabilities change by {report['other_classes_change']:.3f} "
              f"(sum of absolute changes, mean over samples)")
    else:
        w, labels = read_labels(args.labels, code_dim)
        direction = mean_difference_direction(w, labels == args.positive)
        report = None
    temp_path = args.out + ".tmp.npy"
    np.save(temp_path, direction)
    os.replace(temp_path, args.out)
    print(f"wrote {args.out}")
    return direction, report


def apply_direction(args):
    generator, checkpoint = load_generator(args.ckpt)
    try:
        direction = np.load(args.direction).astype(np.float32)
    except (OSError, ValueError) as error:
        raise UsageError(f"{args.direction}: not a direction file ({error})") from None
    if direction.shape != (generator.w_avg.shape[0],):
        raise UsageError(f"{args.direction}: holds shape {direction.shape}, not a w direction "
                         f"of size {generator.w_avg.shape[0]}")
    latents = ProjectedLatents(args.latents, generator.w_avg.shape[0])
    step, alpha = choose_size(latents.size, checkpoint, args.ckpt)
    strip = edit_strip(generator, latents, direction, args.strengths, step, alpha)
    save_image_atomically(image_grid(strip, len(args.strengths)), args.out)
    print(f"wrote {args.out}: {len(args.latents)} rows, strengths "
          + " ".join(f"{s:g}" for s in args.strengths))
    return strip


def main(argv=None):
    args = parse_args(argv)
    writable_folder(os.path.dirname(os.path.abspath(args.out)), "--out")
    select_device(args.device)
    return find_direction(args) if args.command == "direction" else apply_direction(args)


if __name__ == "__main__":
    run_cli(main)
