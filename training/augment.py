"""Differentiable augmentation for the discriminator (DiffAugment, Zhao et al. 2020): the same
random colour, translation and cutout on real and generated images, in every pass through D
(the gradient penalty's too), so D cannot memorise a small training set.

Each operation is identity at strength 0 and differentiable in the images (R1 and WGAN-GP
differentiate D's input through it). Draws come from NumPy's generator, which training seeds
from (seed, iteration): a resumed run augments as the uninterrupted one did. Every channel
moves alike, so grey images stay grey.
"""
import numpy as np

from runtime import jt
from training.distributed import rank_share

OPERATIONS = ("color", "translation", "cutout")
TRANSLATION_RATIO = 1 / 8  # DiffAugment's: up to 1/8 of the image each way
CUTOUT_RATIO = 1 / 2  # a square of half the image's side


def parse_policy(text):
    operations = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in operations if name not in OPERATIONS]
    if unknown or not operations:
        raise ValueError(f"--augment {text}: choose from {','.join(OPERATIONS)}")
    return operations


def global_draws(shape, count):
    """Uniform [0, 1) draws for the global batch (as one rank would see them), this rank's
    share as a float32 array."""
    return rank_share(np.random.uniform(size=(count * jt.world_size,) + shape)
                      .astype(np.float32))


def color(x, strength):
    """Brightness, saturation and contrast moved at random (DiffAugment's ranges at
    strength 1); at strength 0 the images themselves (not a rounding of them)."""
    if strength == 0:
        return x
    n = x.shape[0]
    brightness = jt.array((global_draws((1, 1, 1), n) - 0.5) * strength)
    x = x + brightness
    saturation = jt.array(global_draws((1, 1, 1), n) * 2 * strength + (1 - strength))
    channel_mean = x.mean(1, keepdims=True)
    x = (x - channel_mean) * saturation + channel_mean
    contrast = jt.array((global_draws((1, 1, 1), n) + 0.5) * strength + (1 - strength))
    image_mean = x.mean([1, 2, 3], keepdims=True)
    return (x - image_mean) * contrast + image_mean


def translation(x, strength):
    """Each image shifted by whole pixels, up to 1/8 of its side times strength, zeros
    shifted in."""
    n, _, height, width = x.shape
    limits = [int(size * TRANSLATION_RATIO * strength + 0.5) for size in (height, width)]
    if limits == [0, 0]:
        return x
    shifts = [np.floor(draw * (2 * limit + 1)).astype(np.int32) - limit
              for draw, limit in zip(global_draws((2,), n).T, limits)]
    return x.reindex(x.shape, ["i0", "i1", "i2-@e0(i0)", "i3-@e1(i0)"], overflow_value=0,
                     extras=[jt.array(shifts[0]), jt.array(shifts[1])])


def cutout(x, strength):
    """A square of half the side times strength set to zero, at a random place in each image
    (it may reach past the border)."""
    n, _, height, width = x.shape
    size = [int(side * CUTOUT_RATIO * strength + 0.5) for side in (height, width)]
    if 0 in size:
        return x
    starts = [np.floor(draw * (side + (1 - cut % 2))).astype(np.int64) - cut // 2
              for draw, side, cut in zip(global_draws((2,), n).T, (height, width), size)]
    inside = [(np.arange(side)[None] >= start[:, None])
              & (np.arange(side)[None] < start[:, None] + cut)
              for side, start, cut in zip((height, width), starts, size)]
    keep = ~(inside[0][:, :, None] & inside[1][:, None, :])
    return x * jt.array(keep[:, None].astype(np.float32))


FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}


def augment(x, policy=OPERATIONS, strength=1.0):
    for name in policy:
        x = FUNCTIONS[name](x, strength)
    return x


class AugmentedDiscriminator:
    """D seeing every image augmented; called like the discriminator."""

    def __init__(self, discriminator, policy, strength=1.0):
        self.discriminator, self.policy, self.strength = discriminator, policy, strength

    def __call__(self, images, step=0, alpha=-1):
        return self.discriminator(augment(images, self.policy, self.strength), step=step,
                                  alpha=alpha)

