"""A small MNIST classifier in NumPy, and what it says of generated digits: the recognised
share, the classes, how far from grey, and whether style-mixing grids mix."""
import numpy as np

from imaging import to_uint8_images
from imaging.mnist import read_mnist
from rendering import generated_batches, style_mixing_images

CONFIDENT = 0.9
HIDDEN = 256


def features(digits):
    """(N, 32, 32) grey values in [0, 1] -> (N, 256): 2x2 means, so 16 and 32 px inputs agree."""
    n = len(digits)
    return digits.reshape(n, 16, 2, 16, 2).mean((2, 4)).reshape(n, 256).astype(np.float32)


def mnist_grey(split):
    """MNIST digits padded to 32 px as the demo set is, in [0, 1], and their labels."""
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


def generated_images(render, count, seed):
    """NHWC uint8 images from the renderer's random latents."""
    batches = generated_batches(render, count, 64, np.random.RandomState(seed))
    return np.concatenate(list(batches)).transpose(0, 2, 3, 1)


def conditional_report(classifier, render, count, seed, class_names):
    """A conditional demo model: for each class that names a digit, `count` samples drawn
    for it; how many the classifier reads (with confidence) as that digit, of the confident
    ones and of all."""
    report, classes = {}, render.classes
    for label, name in enumerate(class_names):
        if not (name.isdigit() and int(name) < 10):
            continue
        render.classes = label
        probabilities = classifier.probabilities(features(grey_levels(
            generated_images(render, count, seed))))
        render.classes = classes
        confident = probabilities.max(1) >= CONFIDENT
        as_requested = confident & (probabilities.argmax(1) == int(name))
        report[name] = {"of_confident": float(as_requested.sum() / max(confident.sum(), 1)),
                        "of_all": float(as_requested.mean())}
    return report
