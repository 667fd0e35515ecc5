"""Does the demo generator draw digits? A small MNIST classifier's verdict, in NumPy.

    python digits.py checkpoint/last.model [--count 512] [--mixing]

A two-layer perceptron trained on MNIST (from jittor-offline, no download; about 6 s on two
CPU cores) reads each generated image; an image counts as a recognised digit when the classifier
is at least 90% sure. Reported: the recognised fraction and how they spread over the ten classes
(a collapsed generator draws one class), and how far the images are from grey, as the digits
are. Real MNIST test digits: 83% recognised, all ten classes (the classifier is 95.7% accurate).
"""
import argparse

import numpy as np

CONFIDENT = 0.9
HIDDEN = 256


def features(digits):
    """(N, 32, 32) grey values in [0, 1] -> (N, 256): 2x2 means, so 16 and 32 px inputs agree."""
    n = len(digits)
    return digits.reshape(n, 16, 2, 16, 2).mean((2, 4)).reshape(n, 256).astype(np.float32)


def mnist_grey(split):
    """MNIST digits padded to 32 px as the demo set is, in [0, 1], and their labels."""
    from resize import read_mnist

    digits = np.pad(read_mnist(split), ((0, 0), (2, 2), (2, 2))).astype(np.float32) / 255
    return digits, read_mnist(split, labels=True).astype(np.int64)


def softmax(logits):
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return exp / exp.sum(1, keepdims=True)


class DigitClassifier:
    def __init__(self, seed=0):
        rng = np.random.RandomState(seed)
        self.w1 = (rng.randn(256, HIDDEN) * np.sqrt(2 / 256)).astype(np.float32)
        self.b1 = np.zeros(HIDDEN, np.float32)
        self.w2 = (rng.randn(HIDDEN, 10) * np.sqrt(1 / HIDDEN)).astype(np.float32)
        self.b2 = np.zeros(10, np.float32)

    def probabilities(self, x):
        hidden = np.maximum(x @ self.w1 + self.b1, 0)
        return softmax(hidden @ self.w2 + self.b2)

    def fit(self, x, labels, epochs=8, batch=100, lr=0.1, seed=0):
        """Plain minibatch SGD on cross-entropy."""
        rng = np.random.RandomState(seed)
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch):
                rows = order[start:start + batch]
                self._sgd_step(x[rows], labels[rows], lr)
        return self

    def _sgd_step(self, x, labels, lr):
        hidden = np.maximum(x @ self.w1 + self.b1, 0)
        d_logits = softmax(hidden @ self.w2 + self.b2)
        d_logits[np.arange(len(x)), labels] -= 1
        d_logits /= len(x)
        d_hidden = (d_logits @ self.w2.T) * (hidden > 0)
        self.w2 -= lr * hidden.T @ d_logits
        self.b2 -= lr * d_logits.sum(0)
        self.w1 -= lr * x.T @ d_hidden
        self.b1 -= lr * d_hidden.sum(0)


def trained_classifier(epochs=8):
    grey, labels = mnist_grey("train")
    return DigitClassifier().fit(features(grey), labels, epochs=epochs)


def grey_levels(images):
    """NHWC RGB levels 0-255 (16 or 32 px) -> (N, 32, 32) in [0, 1]; the brightest channel, so a
    tinted stroke still reads as ink."""
    grey = images.max(-1).astype(np.float32) / 255
    if grey.shape[1] == 16:
        grey = grey.repeat(2, 1).repeat(2, 2)
    if grey.shape[1:] != (32, 32):
        raise ValueError(f"digit check needs 16 or 32 px images, got {grey.shape[1]} px")
    return grey


def channel_difference(images):
    """Mean absolute difference between the colour channels of NHWC uint8 RGB images, in
    levels of 255, over the three channel pairs: 0 for grey images."""
    levels = images.astype(np.float32)
    pairs = [(0, 1), (1, 2), (0, 2)]
    return float(np.mean([np.abs(levels[..., a] - levels[..., b]).mean() for a, b in pairs]))


def image_probabilities(classifier, images):
    """Class probabilities for NCHW generator images in [-1, 1]."""
    from images import to_uint8_images

    return classifier.probabilities(features(grey_levels(to_uint8_images(images))))


def digit_report(classifier, grey):
    """Recognised fraction and the recognised digits per class, for (N, 32, 32) in [0, 1]."""
    probabilities = classifier.probabilities(features(grey))
    confident = probabilities.max(1) >= CONFIDENT
    per_class = np.bincount(probabilities.argmax(1)[confident], minlength=10)
    return {"recognised": float(confident.mean()), "per_class": per_class.tolist(),
            "classes_seen": int((per_class > 0).sum())}


def mixing_report(classifier, render, rng, code_dim, mixing_range, grids=3, size=5):
    """Do style-mixing grids (generate.py's: size sources x size targets) mix? The share of
    cells read as another digit than their column's source, and mean absolute differences in
    levels of 255: between two rows of one column (0: every row copies the source), between
    each cell and its source, and, for scale, between two unrelated samples (the sources)."""
    from generate import style_mixing_images
    from images import to_uint8_images

    def read(levels):
        return classifier.probabilities(features(grey_levels(levels))).argmax(1)

    def distance(a, b):
        return np.abs(a - b).mean()

    unlike, row_differences, source_differences, sample_differences = [], [], [], []
    pairs = [(a, b) for a in range(size) for b in range(a + 1, size)]
    for _ in range(grids):
        sources, _, cells = style_mixing_images(render, rng, code_dim, size, size, mixing_range)
        # uint8 levels as float, once: the classifier and the differences both read them
        source_levels = to_uint8_images(sources).astype(np.float32)
        source_digits = read(source_levels)
        levels = np.stack([to_uint8_images(row) for row in cells]).astype(np.float32)
        unlike += [read(row) != source_digits for row in levels]
        row_differences += [distance(levels[a], levels[b]) for a, b in pairs]
        source_differences += [distance(row, source_levels) for row in levels]
        sample_differences += [distance(source_levels[a], source_levels[b]) for a, b in pairs]
    return {"unlike_source": float(np.mean(unlike)),
            "row_difference": float(np.mean(row_differences)),
            "source_difference": float(np.mean(source_differences)),
            "sample_difference": float(np.mean(sample_differences))}


def generator_renderer(path):
    """generate.py's renderer for the checkpoint's EMA generator at its trained size, no
    truncation, and the latent size."""
    from checkpoint import load_generator, trained_resolution
    from generate import Renderer
    from model import step_of_size

    generator, checkpoint = load_generator(path)
    size, alpha = trained_resolution(checkpoint)
    render = Renderer(generator, step_of_size(size), alpha, None, 1.0, None, batch=64)
    return render, generator.w_avg.shape[0]


def generated_images(render, count, seed):
    """NHWC uint8 images from the renderer's random latents."""
    from metrics import generated_batches

    batches = generated_batches(render, count, 64, np.random.RandomState(seed))
    return np.concatenate(list(batches)).transpose(0, 2, 3, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ckpt", help="a checkpoint trained on the demo set (16 or 32 px)")
    parser.add_argument("--count", type=int, default=512, help="images to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixing", action="store_true",
                        help="also measure generate.py's style-mixing grids (3 of 5 x 5, its "
                             "default range): cells that read as another digit than their "
                             "source, and how much rows differ")
    args = parser.parse_args(argv)
    from resize import ResizeError
    from runtime import UsageError

    if args.count < 1:
        raise UsageError(f"--count {args.count}: must be at least 1")
    render, code_dim = generator_renderer(args.ckpt)
    images = generated_images(render, args.count, args.seed)
    try:
        grey = grey_levels(images)
    except ValueError as error:
        raise UsageError(f"{args.ckpt}: {error}; train on the demo set to 16 or 32 px") from None
    try:
        classifier = trained_classifier()
        test_grey, test_labels = mnist_grey("t10k")
    except ResizeError as error:
        raise UsageError(str(error)) from None
    real = digit_report(classifier, test_grey)
    generated = {**digit_report(classifier, grey), "channel_difference": channel_difference(images)}
    accuracy = (classifier.probabilities(features(test_grey)).argmax(1) == test_labels).mean()
    print(f"classifier accuracy on MNIST test digits: {accuracy:.3f}")
    for name, report in (("MNIST test digits", real), (args.ckpt, generated)):
        print(f"{name}: {report['recognised']:.1%} recognised, {report['classes_seen']} of 10 "
              f"classes, per class {report['per_class']}")
    print(f"{args.ckpt}: colour channels differ by {generated['channel_difference']:.1f} levels "
          f"of 255 on average (grey images: 0)")
    if args.mixing:
        from generate import coarse_blocks

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
    from runtime import run_cli

    run_cli(main)
