"""Does the demo generator draw digits? A small MNIST classifier's verdict, in NumPy.

    python digits.py checkpoint/last.model [--count 512] [--mixing]

A two-layer perceptron trained on MNIST (from jittor-offline, no download; about 6 s on two
CPU cores) reads each generated image; an image counts as a recognised digit when the classifier
is at least 90% sure. Reported: the recognised fraction and how they spread over the ten classes
(a collapsed generator draws one class), and how far the images are from grey, as the digits
are. Real MNIST test digits: 83% recognised, all ten classes (the classifier is 95.7% accurate).
A conditional model (train.py --cond) draws the classes in turn, and for each class --count
more samples of it: how many are read as the requested digit, of the confident ones and of all.
"""
import argparse

import numpy as np

from cli import DescriptionAndDefaults, UsageError, answer_help_before_jittor, run_cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=DescriptionAndDefaults)
    parser.add_argument("ckpt", help="a checkpoint trained on the demo set (16 or 32 px)")
    parser.add_argument("--count", type=int, default=512, help="images to generate")
    parser.add_argument("--seed", type=int, default=0, help="of the generated latents")
    parser.add_argument("--classes", metavar="CLASSES",
                        help="also report the share of samples read (with 90%% confidence) as "
                             "one of these digits, as 5-9 (a model fine-tuned on them)")
    parser.add_argument("--mixing", action="store_true",
                        help="also measure generate.py's style-mixing grids (3 of 5 x 5, its "
                             "default range): cells that read as another digit than their "
                             "source, and how much rows differ")
    return parser.parse_args(argv)


answer_help_before_jittor(__name__, parse_args)
# the imports below start Jittor
from formats.checkpoints import load_generator, trained_resolution
from imaging.resizing import parse_digit_classes
from model import step_of_size
from rendering import Renderer, coarse_blocks
from evaluation.digits import (channel_difference, conditional_report, digit_report, features,
                               generated_images, grey_levels, mixing_report, mnist_grey,
                               trained_classifier)


def generator_renderer(path):
    """generate.py's renderer for the checkpoint's EMA generator at its trained size, no
    truncation; the latent size and the class names (None when unconditional)."""
    generator, checkpoint = load_generator(path)
    size, alpha = trained_resolution(checkpoint)
    render = Renderer(generator, step_of_size(size), alpha, None, 1.0, None, batch=64)
    names = (checkpoint.get("meta") or {}).get("class_names")
    if generator.n_classes and not names:
        names = [str(k) for k in range(generator.n_classes)]
    return render, generator.w_avg.shape[0], names


def main(argv=None):
    args = parse_args(argv)
    if args.count < 1:
        raise UsageError(f"--count {args.count}: must be at least 1")
    render, code_dim, class_names = generator_renderer(args.ckpt)
    n_classes = render.generator.n_classes
    if n_classes and args.mixing:
        raise UsageError(f"--mixing: {args.ckpt} is conditional; its mixing grids are not "
                         "measured (the report per requested class is)")
    if n_classes:
        render.classes = np.arange(args.count) % n_classes
    images = generated_images(render, args.count, args.seed)
    try:
        grey = grey_levels(images)
    except ValueError as error:
        raise UsageError(f"{args.ckpt}: {error}; train on the demo set to 16 or 32 px") from None
    classifier = trained_classifier()
    test_grey, test_labels = mnist_grey("t10k")
    real = digit_report(classifier, test_grey)
    generated = {**digit_report(classifier, grey), "channel_difference": channel_difference(images)}
    accuracy = (classifier.probabilities(features(test_grey)).argmax(1) == test_labels).mean()
    print(f"classifier accuracy on MNIST test digits: {accuracy:.3f}")
    for name, report in (("MNIST test digits", real), (args.ckpt, generated)):
        print(f"{name}: {report['recognised']:.1%} recognised, {report['classes_seen']} of 10 "
              f"classes, per class {report['per_class']}")
    if args.classes:
        try:
            classes = parse_digit_classes(args.classes)
        except ValueError as error:
            raise UsageError(f"--classes {error}") from None
        share = sum(generated["per_class"][c] for c in classes) / args.count
        generated["share_of_classes"] = share
        print(f"{args.ckpt}: {share:.1%} of the samples read as {args.classes}")
    if n_classes:
        requested = conditional_report(classifier, render, args.count, args.seed, class_names)
        for name, figures in requested.items():
            print(f"class {name}: {figures['of_confident']:.1%} of the confident samples and "
                  f"{figures['of_all']:.1%} of all read as {name}")
        generated["requested"] = requested
        if requested:
            for key in ("of_confident", "of_all"):
                generated[f"requested_{key}"] = float(np.mean([f[key] for f in
                                                              requested.values()]))
            print(f"{args.ckpt}: requested class read in {generated['requested_of_confident']:.1%}"
                  f" of the confident samples, {generated['requested_of_all']:.1%} of all "
                  f"(mean over {len(requested)} classes)")
    print(f"{args.ckpt}: colour channels differ by {generated['channel_difference']:.1f} levels "
          f"of 255 on average (grey images: 0)")
    if args.mixing:
        blocks = coarse_blocks(render.step)
        mixing = mixing_report(classifier, render, np.random.RandomState(args.seed), code_dim,
                               blocks)
        print(f"style mixing (3 grids of 5 x 5, blocks {blocks[0]}-{blocks[1]} from the "
              f"sources): {mixing['unlike_source']:.0%} of cells read as another digit than "
              f"their source; on average, in levels of 255, rows of a column differ by "
              f"{mixing['row_difference']:.1f}, cells from their source by "
              f"{mixing['source_difference']:.1f}, two unrelated samples by "
              f"{mixing['sample_difference']:.1f}")
        generated = {**generated, **mixing}
    return generated


if __name__ == "__main__":
    run_cli(main)
