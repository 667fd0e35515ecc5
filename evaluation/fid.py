"""Frechet Inception Distance: Inception-v3 pool features of generated and real images, the
real statistics cached beside the data, the distance in float64."""
import os

import numpy as np
from tqdm import tqdm

from cli import progress_interval
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


def real_batches(dataset, size, count, batch):
    for start in range(0, count, batch):
        images = [np.asarray(dataset.source.load(size, i))
                  for i in range(start, min(start + batch, count))]
        yield np.stack(images).transpose(0, 3, 1, 2)


def real_statistics(inception, dataset, data_root, size, n, batch):
    """Mean and covariance of real features, cached beside the data per size and count."""
    available = len(dataset.source.files(size))
    count = min(n, available)
    cache = os.path.join(data_root, f"fid_stats_{size}px_{count}.npz")
    if os.path.exists(cache):
        stored = np.load(cache)
        if int(stored["available"]) == available:
            return stored["mu"], stored["sigma"], count
    features = inception_features(inception, real_batches(dataset, size, count, batch), count,
                                  f"real {size} px")
    mu, sigma = statistics(features)
    np.savez(cache, mu=mu, sigma=sigma, available=available)
    return mu, sigma, count


class GeneratorFid:
    """FID of generators against one data set, the Inception network and the real
    statistics loaded once (training computes it every --fid_every iterations)."""

    def __init__(self, data_root, n, batch=16, seed=0, progress=True):
        from perceptual.inception import InceptionV3

        self.data_root, self.n, self.batch, self.seed = data_root, n, batch, seed
        self.inception = InceptionV3()
        self.progress = progress
        self.real = {}  # resolution -> (mu, sigma, count)

    def real_statistics(self, resolution):
        if resolution not in self.real:
            dataset = MultiResolutionDataset(self.data_root, resolution, flip=False)
            self.real[resolution] = real_statistics(self.inception, dataset, self.data_root,
                                                    resolution, self.n, self.batch)
        return self.real[resolution]

    def __call__(self, generator, step, alpha, mean=None, truncation=1.0, rng=None):
        """(FID, real images used) of n images of the generator at (step, alpha), drawn
        from rng (none given: RandomState(seed))."""
        mu_real, sigma_real, real_count = self.real_statistics(4 * 2**step)
        rng = np.random.RandomState(self.seed) if rng is None else rng
        render = Renderer(generator, step, alpha, mean, truncation, None, self.batch)
        fake = inception_features(self.inception, generated_batches(render, self.n, self.batch,
                                                                    rng),
                                  self.n, f"generated {4 * 2**step} px", self.progress)
        return frechet_distance(*statistics(fake), mu_real, sigma_real), real_count


def compute_fid(ckpt, data_root, n=50000, size=None, batch=16, truncation=1.0, seed=0):
    generator, checkpoint = load_generator(ckpt)  # a bad file fails before the big nets load
    step, alpha = choose_size(size, checkpoint, ckpt)
    resolution = 4 * 2**step
    MultiResolutionDataset(data_root, resolution, flip=False)  # a bad folder too
    measure = GeneratorFid(data_root, n, batch, seed)
    rng = np.random.RandomState(seed)  # the truncation centre's draws, then the images'
    mean = mean_style(generator, checkpoint, rng) if truncation != 1 else None
    value, real_count = measure(generator, step, alpha, mean, truncation, rng)
    return value, resolution, real_count
