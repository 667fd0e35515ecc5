"""Perceptual path length (StyleGAN paper, as NVIDIA's metric computes it): LPIPS distance
between images eps apart along random paths in z (slerp between unit vectors) or w (lerp),
over eps squared, outliers dropped; paths sampled at their ends or anywhere along them."""
import numpy as np
from tqdm import tqdm

from cli import progress_interval
from runtime import jt
from convolution import upsample_nearest
from formats.checkpoints import load_generator
from rendering import choose_size, make_noise

SAMPLINGS = ("end", "full")


def unit(v):
    return v / np.sqrt((v * v).sum(-1, keepdims=True))


def unit_slerp(a, b, t):
    """The official metric's slerp: from unit(a) towards unit(b) by the fraction t of the
    angle between them, along the great circle, a unit vector. (Without normalising, the
    step taken would scale with |b| / |a| and so would each distance.)"""
    a, b = unit(a), unit(b)
    cos = np.clip((a * b).sum(-1, keepdims=True), -1, 1)
    angle = t[:, None] * np.arccos(cos)
    towards = unit(b - cos * a)
    return unit(a * np.cos(angle) + towards * np.sin(angle))


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


def path_pairs(rng, count, code_dim, eps, space, generator, sampling="end"):
    """Latent pairs at t and t + eps along paths between two random latents: t = 0 ('end'
    sampling, the paper's figures) or uniform in [0, 1) ('full')."""
    start = rng.randn(count, code_dim).astype(np.float32)
    end = rng.randn(count, code_dim).astype(np.float32)
    t = rng.uniform(0, 1, count) if sampling == "full" else np.zeros(count)
    if space == "z":
        pair = [unit_slerp(start, end, t), unit_slerp(start, end, t + eps)]
        return [jt.array(z.astype(np.float32)) for z in pair], False
    w_start = generator.style(jt.array(start)).numpy()
    w_end = generator.style(jt.array(end)).numpy()
    t = t.astype(np.float32)[:, None]
    pair = [w_start + t * (w_end - w_start), w_start + (t + np.float32(eps)) * (w_end - w_start)]
    return [jt.array(w) for w in pair], True


def ppl_distances(generator, lpips, step, alpha, n, batch, space, eps, crop, rng,
                  sampling="end"):
    code_dim = generator.w_avg.shape[0]
    distances = []
    with jt.no_grad(), tqdm(total=n, desc=f"PPL ({space})", unit="pair",
                            mininterval=progress_interval()) as bar:
        for start in range(0, n, batch):
            count = min(batch, n - start)
            (a, b), from_w = path_pairs(rng, count, code_dim, eps, space, generator, sampling)
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


def compute_ppl(ckpt, n=100000, space="w", eps=1e-4, crop=False, size=None, batch=16, seed=0,
                sampling="end"):
    from perceptual.lpips import LPIPS

    generator, checkpoint = load_generator(ckpt, unconditional_only="metrics.py ppl")
    step, alpha = choose_size(size, checkpoint, ckpt)
    lpips = LPIPS()
    distances = ppl_distances(generator, lpips, step, alpha, n, batch, space, eps, crop,
                              np.random.RandomState(seed), sampling)
    return filtered_mean(distances), 4 * 2**step
