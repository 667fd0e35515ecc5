"""Frechet Inception Distance: Inception-v3 pool features of generated and real images, the
real statistics cached beside the data, the distance in float64."""
import os

import numpy as np
from tqdm import tqdm

from cli import UsageError, progress_interval
from convolution import precision_set_to
from runtime import jt
from dataset import MultiResolutionDataset
from formats.checkpoints import load_generator
from rendering import Renderer, choose_size, generated_batches, mean_style


def sqrtm_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix, by eigen-decomposition."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """|mu1 - mu2|^2 + tr(s1 + s2 - 2 (s1 s2)^1/2), with tr((s1 s2)^1/2) computed as the
    trace of (s1^1/2 s2 s1^1/2)^1/2: symmetric, so real and stable, in float64."""
    mu1, mu2, sigma1, sigma2 = (np.asarray(a, np.float64) for a in (mu1, mu2, sigma1, sigma2))
    root1 = sqrtm_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def statistics(features):
    features = np.asarray(features, np.float64)
    return features.mean(0), np.cov(features, rowvar=False)


def inception_features(inception, uint8_batches, total, description, progress=True):
    """2048-d features of NCHW uint8 batches."""
    features = []
    with jt.no_grad(), tqdm(total=total, desc=description, unit="img", disable=not progress,
                            mininterval=progress_interval()) as bar:
        for batch in uint8_batches:
            features.append(inception(jt.array(batch)).numpy().astype(np.float64))
            bar.update(len(batch))
    return np.concatenate(features)


REAL_ORDER_SEED = 0  # one fixed draw of the real images, shared by every FID of a data set


def real_draw(available, count, mirror, seed=REAL_ORDER_SEED):
    """Which real images an FID uses, and which of them mirrored: `count` indices from
    seeded shuffles of the whole set, one after another when count exceeds it (as the
    official metric reads its shuffled, repeating dataset), never the first files in sorted
    order (a folder sorted by class would give a biased subset). With mirror, a seeded half
    of them flipped left-right, as the official metric does for runs trained with flips."""
    rng = np.random.RandomState(seed)
    rounds = -(-count // available)
    indices = np.concatenate([rng.permutation(available) for _ in range(rounds)])[:count]
    flips = rng.rand(count) < 0.5 if mirror else np.zeros(count, bool)
    return indices, flips


def real_batches(dataset, size, count, batch, mirror=False, among=None):
    """NCHW uint8 batches of `count` real images as real_draw chooses them (from the
    indices `among` only, when given: one class's images)."""
    among = np.arange(len(dataset.source.files(size))) if among is None else np.asarray(among)
    indices, flips = real_draw(len(among), count, mirror)
    indices = among[indices]
    for start in range(0, count, batch):
        images = [np.asarray(dataset.source.load(size, int(i)))
                  for i in indices[start:start + batch]]
        images = [image[:, ::-1] if flip else image
                  for image, flip in zip(images, flips[start:start + batch])]
        yield np.stack(images).transpose(0, 3, 1, 2)


def real_statistics(inception, dataset, data_root, size, n, batch, mirror=False, label=None):
    """Mean and covariance of the features of n real images (real_draw; of one class when
    `label` is given), cached beside the data per size, count, mirroring and class."""
    among = None
    if label is not None:
        among = np.flatnonzero(np.asarray(dataset.source.labels(size)[0]) == label)
    available = len(dataset.source.files(size)) if among is None else len(among)
    kind = "mirrored" if mirror else "plain"
    of_class = "" if label is None else f"_class{label}"
    cache = os.path.join(data_root, f"fid_stats_{size}px_{n}_shuffled_{kind}{of_class}.npz")
    if os.path.exists(cache):
        stored = np.load(cache)
        if int(stored["available"]) == available:
            return stored["mu"], stored["sigma"], n
    features = inception_features(inception, real_batches(dataset, size, n, batch, mirror, among),
                                  n, f"real {size} px" + ("" if label is None else f" class {label}"))
    mu, sigma = statistics(features)
    np.savez(cache, mu=mu, sigma=sigma, available=available)
    return mu, sigma, n


class GeneratorFid:
    """FID of generators against one data set, the Inception network and the real
    statistics loaded once (training computes it every --fid_every iterations)."""

    def __init__(self, data_root, n, batch=16, seed=0, progress=True, mirror=False):
        from perceptual.inception import InceptionV3

        self.data_root, self.n, self.batch, self.seed = data_root, n, batch, seed
        self.mirror = mirror
        self.inception = InceptionV3()
        self.progress = progress
        self.real = {}  # (resolution, class) -> (mu, sigma, count)
        self.datasets = {}

    def dataset(self, resolution):
        if resolution not in self.datasets:
            self.datasets[resolution] = MultiResolutionDataset(self.data_root, resolution,
                                                               flip=False)
        return self.datasets[resolution]

    def real_statistics(self, resolution, label=None):
        if (resolution, label) not in self.real:
            self.real[resolution, label] = real_statistics(
                self.inception, self.dataset(resolution), self.data_root, resolution, self.n,
                self.batch, self.mirror, label)
        return self.real[resolution, label]

    def generated_classes(self, generator, resolution, rng, label):
        """A conditional model's class for each generated image: `label`, or drawn as
        often as the data has each (the official metric draws the dataset's labels)."""
        if not generator.n_classes:
            return None
        if label is not None:
            return np.full(self.n, label)
        labels = self.dataset(resolution).source.labels(resolution)[0]
        if labels is None:
            raise UsageError(f"{self.data_root}: no class labels at {resolution} px, which a "
                             "conditional model's FID draws its classes from")
        counts = np.bincount(labels, minlength=generator.n_classes).astype(np.float64)
        return rng.choice(generator.n_classes, size=self.n, p=counts / counts.sum())

    def __call__(self, generator, step, alpha, mean=None, truncation=1.0, rng=None, label=None):
        """(FID, real images used) of n images of the generator at (step, alpha), drawn
        from rng (none given: RandomState(seed)); with `label`, of that class against the
        data's images of it. Always in float32: training on AMX runs its convolutions in
        bfloat16, and its FIDs must equal metrics.py's."""
        with precision_set_to("float32"):
            return self.measure(generator, step, alpha, mean, truncation, rng, label)

    def measure(self, generator, step, alpha, mean, truncation, rng, label=None):
        mu_real, sigma_real, real_count = self.real_statistics(4 * 2**step, label)
        rng = np.random.RandomState(self.seed) if rng is None else rng
        classes = self.generated_classes(generator, 4 * 2**step, rng, label)
        render = Renderer(generator, step, alpha, mean, truncation, None, self.batch,
                          classes=classes)
        fake = inception_features(self.inception, generated_batches(render, self.n, self.batch,
                                                                    rng),
                                  self.n, f"generated {4 * 2**step} px", self.progress)
        return frechet_distance(*statistics(fake), mu_real, sigma_real), real_count


def trained_with_flips(checkpoint):
    """Whether the run mirrored its reals, as our files record it (others: not known, False)."""
    return bool((checkpoint.get("meta") or {}).get("flipped", False))


def compute_fid(ckpt, data_root, n=50000, size=None, batch=16, truncation=1.0, seed=0,
                mirror="auto", per_class=False):
    """mirror: "auto" (as the checkpoint records its training), "on" or "off". With
    per_class (conditional models), also {class: FID of that class against its images}."""
    generator, checkpoint = load_generator(ckpt)  # a bad file fails before the big nets load
    step, alpha = choose_size(size, checkpoint, ckpt)
    resolution = 4 * 2**step
    MultiResolutionDataset(data_root, resolution, flip=False)  # a bad folder too
    mirrored = trained_with_flips(checkpoint) if mirror == "auto" else mirror == "on"
    measure = GeneratorFid(data_root, n, batch, seed, mirror=mirrored)
    rng = np.random.RandomState(seed)  # the truncation centre's draws, then the images'
    mean = mean_style(generator, checkpoint, rng) if truncation != 1 else None
    value, real_count = measure(generator, step, alpha, mean, truncation, rng)
    if not per_class:
        return value, resolution, real_count
    if not generator.n_classes:
        raise UsageError(f"--per_class: {ckpt} is an unconditional model")
    classes = {label: measure(generator, step, alpha, mean, truncation,
                              np.random.RandomState(seed + 1 + label), label)[0]
               for label in range(generator.n_classes)}
    return value, resolution, real_count, classes
