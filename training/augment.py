"""Differentiable augmentation for the discriminator: the same random operations on real and
generated images, in every pass through D (the gradient penalty's too), so D cannot memorise a
small training set. DiffAugment (Zhao et al. 2020) applies its colour, translation and cutout
to every image, scaled by a strength; ADA (Karras et al. 2020, `--augment ada`) applies each
operation of its pipeline to each image with a probability p that training tunes.

Each operation is the identity at strength 0 or probability 0 (the images themselves, not a
rounding of them) and differentiable in the images (R1 and WGAN-GP differentiate D's input
through it). Draws come from NumPy's generator, which training seeds from (seed, iteration):
a resumed run augments as the uninterrupted one did. Every channel moves alike, so grey images
stay grey.
"""
import numpy as np

from runtime import jt
from training.distributed import rank_share

GEOMETRIC = ("flip", "rotate90", "scale", "rotate")
OPERATIONS = ("color", "translation", "cutout") + GEOMETRIC
DIFFAUGMENT = ("color", "translation", "cutout")
# ADA's pipeline, as far as it fits: its non-leaking geometric operations and integer
# translation, then colour and cutout
ADA = ("flip", "rotate90", "translation", "scale", "rotate", "color", "cutout")
TRANSLATION_RATIO = 1 / 8  # DiffAugment's and ADA's: up to 1/8 of the image each way
CUTOUT_RATIO = 1 / 2  # a square of half the image's side
SCALE_STD = 0.2  # ADA: scale 2^N(0, 0.2^2)
ROTATE_MAX = np.pi  # ADA: any angle


def parse_policy(text):
    """The operations of --augment: "ada" (the adaptive pipeline) or names of OPERATIONS."""
    if text.strip() == "ada":
        return ADA
    operations = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in operations if name not in OPERATIONS]
    if unknown or not operations:
        raise ValueError(f"--augment {text}: choose ada, or from {','.join(OPERATIONS)}")
    return operations


def is_adaptive(text):
    return bool(text) and text.strip() == "ada"


def global_draws(shape, count):
    """Uniform [0, 1) draws for the global batch (as one rank would see them), this rank's
    share as a float32 array."""
    return rank_share(np.random.uniform(size=(count * jt.world_size,) + shape)
                      .astype(np.float32))


def applied(count, probability):
    """Which images an operation touches: all at probability 1, else a draw per image."""
    if probability >= 1:
        return np.ones(count, bool)
    return global_draws((), count) < probability


def color(x, strength, probability=1.0):
    """Brightness, saturation and contrast moved at random (DiffAugment's ranges at
    strength 1)."""
    n = x.shape[0]
    chosen = applied(n, probability)
    if strength == 0 or not chosen.any():
        return x
    scale = (strength * chosen).astype(np.float32).reshape(n, 1, 1, 1)
    brightness = jt.array((global_draws((1, 1, 1), n) - 0.5) * scale)
    x = x + brightness
    saturation = jt.array(global_draws((1, 1, 1), n) * 2 * scale + (1 - scale))
    channel_mean = x.mean(1, keepdims=True)
    x = (x - channel_mean) * saturation + channel_mean
    contrast = jt.array((global_draws((1, 1, 1), n) + 0.5) * scale + (1 - scale))
    image_mean = x.mean([1, 2, 3], keepdims=True)
    return (x - image_mean) * contrast + image_mean


def translation(x, strength, probability=1.0):
    """Each image shifted by whole pixels, up to 1/8 of its side times strength, zeros
    shifted in."""
    n, _, height, width = x.shape
    limits = [int(size * TRANSLATION_RATIO * strength + 0.5) for size in (height, width)]
    chosen = applied(n, probability)
    if limits == [0, 0] or not chosen.any():
        return x
    shifts = [(np.floor(draw * (2 * limit + 1)).astype(np.int32) - limit) * chosen
              for draw, limit in zip(global_draws((2,), n).T, limits)]
    return x.reindex(x.shape, ["i0", "i1", "i2-@e0(i0)", "i3-@e1(i0)"], overflow_value=0,
                     extras=[jt.array(shifts[0].astype(np.int32)),
                             jt.array(shifts[1].astype(np.int32))])


def cutout(x, strength, probability=1.0):
    """A square of half the side times strength set to zero, at a random place in each image
    (it may reach past the border)."""
    n, _, height, width = x.shape
    size = [int(side * CUTOUT_RATIO * strength + 0.5) for side in (height, width)]
    chosen = applied(n, probability)
    if 0 in size or not chosen.any():
        return x
    starts = [np.floor(draw * (side + (1 - cut % 2))).astype(np.int64) - cut // 2
              for draw, side, cut in zip(global_draws((2,), n).T, (height, width), size)]
    inside = [(np.arange(side)[None] >= start[:, None])
              & (np.arange(side)[None] < start[:, None] + cut)
              for side, start, cut in zip((height, width), starts, size)]
    keep = ~(inside[0][:, :, None] & inside[1][:, None, :] & chosen[:, None, None])
    return x * jt.array(keep[:, None].astype(np.float32))


def flip_matrices(n, strength, probability):
    """Left-right mirror, for half of the images chosen (ADA's xflip)."""
    flips = applied(n, probability) & (global_draws((), n) < 0.5) & (strength > 0)
    return [np.diag([-1.0, 1.0]) if f else np.eye(2) for f in flips]


def rotate90_matrices(n, strength, probability):
    """A rotation by 0, 90, 180 or 270 degrees (ADA's rotate90)."""
    quarters = np.floor(global_draws((), n) * 4).astype(int) * applied(n, probability)
    quarters = quarters * (strength > 0)
    return [rotation(k * np.pi / 2) for k in quarters]


def scale_matrices(n, strength, probability):
    """Isotropic scaling by 2^N(0, (0.2 strength)^2) (ADA's scale)."""
    chosen = applied(n, probability)
    normal = np.sqrt(-2 * np.log(1 - global_draws((), n))) * np.cos(2 * np.pi * global_draws((), n))
    factors = np.where(chosen, 2.0 ** (normal * SCALE_STD * strength), 1.0)
    return [np.eye(2) / f for f in factors]  # sampling coordinates shrink as the image grows


def rotate_matrices(n, strength, probability):
    """A rotation by an angle uniform in +-pi times strength (ADA's rotate)."""
    chosen = applied(n, probability)
    angles = (global_draws((), n) * 2 - 1) * ROTATE_MAX * strength * chosen
    return [rotation(a) for a in angles]


def rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]]).round(12)


MATRICES = {"flip": flip_matrices, "rotate90": rotate90_matrices, "scale": scale_matrices,
            "rotate": rotate_matrices}


def reflected(index, size):
    """Indices outside [0, size) mirrored back in (reflection without repeating the edge)."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.mod(index, period)
    return np.where(index < size, index, period - index)


def resample(x, matrices):
    """Each image sampled at its pixel centres moved by its 2x2 matrix about the image
    centre, bilinear, reflected at the borders. Integer coordinates (mirrors, quarter turns)
    copy pixels exactly; the sum over the four neighbours is linear in x, so the gradient
    and its gradient are exact."""
    n, _, height, width = x.shape
    ys, xs = np.meshgrid(np.arange(height) + 0.5 - height / 2, np.arange(width) + 0.5 - width / 2,
                         indexing="ij")
    stacked = np.stack([xs.ravel(), ys.ravel()])  # (2, H * W), x first
    source = np.stack([m @ stacked for m in matrices])  # (n, 2, H * W)
    source_x = source[:, 0].reshape(n, height, width) + width / 2 - 0.5
    source_y = source[:, 1].reshape(n, height, width) + height / 2 - 0.5
    # coordinates within 1e-6 of a whole pixel are that pixel: quarter turns stay exact
    source_y = np.where(np.abs(source_y - source_y.round()) < 1e-6, source_y.round(), source_y)
    source_x = np.where(np.abs(source_x - source_x.round()) < 1e-6, source_x.round(), source_x)
    base_y, base_x = np.floor(source_y), np.floor(source_x)
    frac_y, frac_x = source_y - base_y, source_x - base_x
    out = 0
    for offset_y in (0, 1):
        for offset_x in (0, 1):
            weight = (frac_y if offset_y else 1 - frac_y) * (frac_x if offset_x else 1 - frac_x)
            if not weight.any():
                continue
            rows = reflected(base_y.astype(np.int64) + offset_y, height).astype(np.int32)
            cols = reflected(base_x.astype(np.int64) + offset_x, width).astype(np.int32)
            gathered = x.reindex(x.shape, ["i0", "i1", "@e0(i0,i2,i3)", "@e1(i0,i2,i3)"],
                                 extras=[jt.array(rows), jt.array(cols)])
            out = out + gathered * jt.array(weight[:, None].astype(np.float32))
    return out


def geometric(x, names, strength, probability):
    """The geometric operations among `names`, composed into one matrix per image and one
    resampling (none at all when every image is left as it is)."""
    n = x.shape[0]
    combined = [np.eye(2) for _ in range(n)]
    for name in names:
        combined = [a @ b for a, b in zip(combined, MATRICES[name](n, strength, probability))]
    if all(np.array_equal(m, np.eye(2)) for m in combined):
        return x
    return resample(x, combined)


def geometric_operation(name):
    def operation(x, strength, probability=1.0):
        return geometric(x, (name,), strength, probability)
    return operation


FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout,
             **{name: geometric_operation(name) for name in GEOMETRIC}}


def augment(x, policy=DIFFAUGMENT, strength=1.0, probability=1.0):
    """The policy's operations in order; consecutive geometric ones share one resampling."""
    index = 0
    while index < len(policy):
        if policy[index] in GEOMETRIC:
            end = index
            while end < len(policy) and policy[end] in GEOMETRIC:
                end += 1
            x = geometric(x, policy[index:end], strength, probability)
            index = end
            continue
        x = FUNCTIONS[policy[index]](x, strength, probability)
        index += 1
    return x


class AugmentedDiscriminator:
    """D seeing every image augmented; called like the discriminator."""

    def __init__(self, discriminator, policy, strength=1.0, probability=1.0):
        self.discriminator, self.policy = discriminator, policy
        self.strength, self.probability = strength, probability

    def __call__(self, images, step=0, alpha=-1):
        return self.discriminator(augment(images, self.policy, self.strength, self.probability),
                                  step=step, alpha=alpha)
