"""Projection: fitting latents (w or w+) and noise maps to real images, as the StyleGAN
projectors do (LPIPS, noise regularisation and re-normalisation, learning-rate ramps,
annealed latent noise)."""
import math
import os

import numpy as np
from tqdm import tqdm

from cli import UsageError, progress_interval
from runtime import jt
from convolution import avg_pool2
from imaging import UnreadableImage, load_square_rgb, resized, to_training_array, to_uint8_images

MEAN_LATENT_SAMPLES = 10_000
LR_RAMP_DOWN, LR_RAMP_UP = 0.25, 0.05
LATENT_NOISE, LATENT_NOISE_RAMP = 0.05, 0.75
LPIPS_MAX_SIZE = 256


def learning_rate(t, base):
    """Cosine ramp down over the last quarter, linear ramp up over the first 5% (t in [0, 1])."""
    ramp = min(1.0, (1 - t) / LR_RAMP_DOWN)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return base * ramp * min(1.0, t / LR_RAMP_UP)


def latent_noise_scale(t, latent_std):
    """Noise added to the latent while optimising, fading to 0 at 75% of the steps."""
    return latent_std * LATENT_NOISE * max(0.0, 1 - t / LATENT_NOISE_RAMP) ** 2


def noise_regularisation(noise_maps):
    """Squared autocorrelation of each noise map with itself shifted by one pixel, at every
    scale down to 8 px: keeps the maps from carrying the image's content. Per image, then
    summed: each image's term is what it would be alone (a batch mean would couple them)."""
    loss = 0
    for noise in noise_maps:
        while True:
            loss = loss + ((noise * noise.roll(1, 3)).mean([1, 2, 3]) ** 2).sum() \
                + ((noise * noise.roll(1, 2)).mean([1, 2, 3]) ** 2).sum()
            if noise.shape[2] <= 8:
                break
            noise = avg_pool2(noise)
    return loss


def normalised(noise):
    """Each image's map to zero mean and unit variance (its own statistics only)."""
    centred = noise - noise.mean([1, 2, 3], keepdims=True)
    return centred / jt.sqrt((centred * centred).mean([1, 2, 3], keepdims=True))


def lpips_input(images):
    """What LPIPS compares: images above 256 px area-downsampled to 256 (as the StyleGAN
    projectors), smaller ones as they are."""
    while images.shape[2] > LPIPS_MAX_SIZE:
        images = avg_pool2(images)
    return images


def psnr(reconstruction, target):
    """dB over uint8 pixels, one value per image."""
    a = to_uint8_images(reconstruction).astype(np.float64)
    b = to_uint8_images(target).astype(np.float64)
    mse = ((a - b) ** 2).reshape(len(a), -1).mean(1)
    return 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))


def w_statistics(generator, rng):
    """Mean w (the tracked average when trained by us) and the scalar spread of w."""
    z = rng.randn(MEAN_LATENT_SAMPLES, generator.w_avg.shape[0]).astype(np.float32)
    with jt.no_grad():
        w = np.concatenate([generator.style(jt.array(chunk)).numpy() for chunk in np.split(z, 10)])
    mean = w.mean(0)
    return mean, float(np.sqrt(((w - mean) ** 2).sum(1).mean()))


def layer_styles(latent, space, n_layers):
    if space == "w":
        return [latent] * n_layers
    return [latent[:, layer] for layer in range(n_layers)]


class Projection:
    """The latents, noise maps and final scores of a batch of projected images."""

    def __init__(self, latent, space, noise, step, alpha, lpips, psnr_db):
        self.latent, self.space, self.noise = latent, space, noise
        self.step, self.alpha, self.lpips, self.psnr = step, alpha, lpips, psnr_db

    def first(self):
        return Projection(self.latent[:1], self.space, [maps[:1] for maps in self.noise],
                          self.step, self.alpha, self.lpips[:1], self.psnr[:1])

    def save(self, index, path):
        """One image's latent and noise as an .npz that generate.py --latents reads."""
        arrays = {"latent": self.latent[index], "space": np.array(self.space),
                  "size": np.array(4 * 2**self.step), "alpha": np.array(self.alpha),
                  "lpips": np.array(self.lpips[index]), "psnr": np.array(self.psnr[index])}
        arrays.update({f"noise_{k}": maps[index:index + 1] for k, maps in enumerate(self.noise)})
        temp_path = path + ".tmp.npz"
        np.savez(temp_path, **arrays)
        os.replace(temp_path, path)


def project(generator, targets, step, alpha, lpips, space="w", steps=1000, lr=0.1,
            noise_regularize=1e5, mse=0.0, seed=0, progress=True, fixed_noise=None):
    """Fit latents and noise maps so that the generator draws `targets` (NCHW in [-1, 1]);
    with fixed_noise (NumPy maps) only the latents are fitted. Returns (reconstructions,
    Projection)."""
    if len(targets) == 1:
        # Jittor miscompiles the backward of a 1-element sum (a fused array + broadcast with
        # no loop variable): fit the image twice and keep the first
        doubled = None if fixed_noise is None else [np.concatenate([n, n]) for n in fixed_noise]
        reconstructions, projection = project(
            generator, np.concatenate([targets, targets]), step, alpha, lpips, space, steps, lr,
            noise_regularize, mse, seed, progress, doubled)
        return reconstructions[:1], projection.first()
    # every image draws the same random numbers whatever else is in the batch (its noise
    # maps' start, the latent's noise each step): each is fitted as it would be alone
    rng = np.random.RandomState(seed)
    mean, latent_std = w_statistics(generator, rng)
    if generator.w_avg.abs().sum().item() > 0:
        mean = generator.w_avg.numpy()
    count, n_layers = len(targets), 2 * (step + 1)
    start = np.tile(mean, (count, 1) if space == "w" else (count, n_layers, 1))
    latent = jt.array(start.astype(np.float32))
    if fixed_noise is None:
        per_block = 2 if generator.generator.noise_per_layer else 1
        noise = [jt.array(np.repeat(rng.randn(1, 1, 4 * 2**block, 4 * 2**block), count, 0)
                          .astype(np.float32))
                 for block in range(step + 1) for _ in range(per_block)]
        fitted = [latent] + noise
    else:
        noise = [jt.array(maps).stop_grad() for maps in fixed_noise]
        fitted, noise_regularize = [latent], 0
    optimizer = jt.optim.Adam(fitted, lr=lr, betas=(0.9, 0.999))
    target = jt.array(targets).stop_grad()
    with jt.no_grad():
        target_taps = lpips.normalised_taps(lpips_input(target))
    bar = tqdm(range(steps), desc=f"projecting ({space})", disable=not progress,
               mininterval=progress_interval())
    for i in bar:
        t = i / steps
        optimizer.lr = learning_rate(t, lr)
        shake = rng.randn(1, *latent.shape[1:]) * latent_noise_scale(t, latent_std)
        shaken = latent + jt.array(np.repeat(shake, count, 0).astype(np.float32))
        image = generator.generator(layer_styles(shaken, space, n_layers), noise, step, alpha)
        distance = lpips.distance_between(lpips.normalised_taps(lpips_input(image)), target_taps)
        loss = distance.sum()
        if noise_regularize:
            loss = loss + noise_regularize * noise_regularisation(noise)
        if mse:
            loss = loss + mse * ((image - target) ** 2).mean()
        optimizer.step(loss)
        if fixed_noise is None:
            with jt.no_grad():
                for maps in noise:
                    maps.update(normalised(maps).detach())
        if progress and (i % 10 == 0 or i == steps - 1):
            bar.set_postfix(lpips=f"{distance.mean().item():.4f}")
    with jt.no_grad():
        image = generator.generator(layer_styles(latent, space, n_layers), noise, step, alpha)
        final = lpips.distance_between(lpips.normalised_taps(lpips_input(image)),
                                       target_taps).numpy()
    reconstruction = image.numpy()
    return reconstruction, Projection(latent.numpy(), space, [n.numpy() for n in noise],
                                      step, alpha, final, psnr(reconstruction, targets))


def load_targets(paths, size):
    """NCHW float32 in [-1, 1]: each image centre-cropped and resized as resize.py does."""
    arrays = []
    for path in paths:
        try:
            arrays.append(to_training_array(resized(load_square_rgb(path), size)))
        except UnreadableImage as error:
            raise UsageError(f"{path}: cannot read the image ({error})") from None
    return np.stack(arrays).astype(np.float32)
