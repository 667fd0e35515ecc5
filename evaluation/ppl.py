"""Perceptual path length (StyleGAN paper): LPIPS distance between images a small step apart
along random paths in z (slerp) or w (lerp), over eps squared, outliers dropped."""
import numpy as np
from tqdm import tqdm

from cli import progress_interval
from runtime import jt
from convolution import upsample_nearest
from formats.checkpoints import load_generator
from rendering import choose_size, make_noise, slerp


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
