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
import os

import numpy as np

from cli import (DescriptionAndDefaults, UsageError, add_runtime_args, answer_help_before_jittor,
                 run_cli, writable_folder)
from imaging import image_grid, save_image_atomically


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=DescriptionAndDefaults)
    sub = parser.add_subparsers(dest="command", required=True)
    find = sub.add_parser("direction", help="a direction from labelled latents",
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    find.add_argument("ckpt", help="the generator's checkpoint (any kind the project reads)")
    source = find.add_mutually_exclusive_group(required=True)
    source.add_argument("--labels", help="CSV of 'latent.npz,label' rows (projector.py files)")
    source.add_argument("--digits", action="store_true",
                        help="demo set: sample latents and label them with digits.py's classifier")
    find.add_argument("--positive", required=True, help="the label to move toward")
    find.add_argument("--samples", type=int, default=4096, help="with --digits: latents to label")
    find.add_argument("--out", default="direction.npy", help=".npy file to write")
    apply = sub.add_parser("apply", help="render projected latents moved along a direction",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    apply.add_argument("ckpt", help="the generator's checkpoint (any kind the project reads)")
    apply.add_argument("latents", nargs="+", help="projector.py .npz files")
    apply.add_argument("--direction", required=True, help=".npy from edit.py direction")
    apply.add_argument("--strengths", type=float, nargs="+", default=[-3, -1.5, 0, 1.5, 3],
                       help="one column per strength (1 = one standard deviation of w along it)")
    apply.add_argument("--out", default="edit.png", help="PNG to write")
    for command in (find, apply):
        command.add_argument("--seed", type=int, default=0, help="of the sampled latents")
        add_runtime_args(command)
    return parser.parse_args(argv)


answer_help_before_jittor(__name__, parse_args)
# the imports below start Jittor
from runtime import select_device
from editing.directions import (digit_direction, edit_strip, mean_difference_direction,
                                read_labels)
from formats.checkpoints import load_generator
from rendering import ProjectedLatents, choose_size, read_direction


def find_direction(args):
    generator, checkpoint = load_generator(args.ckpt, unconditional_only="edit.py")
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
    generator, checkpoint = load_generator(args.ckpt, unconditional_only="edit.py")
    direction = read_direction(args.direction, generator.w_avg.shape[0])
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
