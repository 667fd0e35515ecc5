"""Batched rendering with fixed settings: the size to draw at, the truncation centre, noise
maps and the Renderer every script draws with."""
import numpy as np

from cli import UsageError
from runtime import jt
from formats.checkpoints import trained_resolution
from imaging import to_uint8_images
from model import step_of_size

MEAN_STYLE_SAMPLES = 10_000


def choose_size(requested, checkpoint, path):
    """(step, alpha) to generate at: the trained size by default, never above it."""
    trained_size, trained_alpha = trained_resolution(checkpoint)
    size = requested or trained_size
    try:
        step = step_of_size(size)
    except ValueError:
        raise UsageError(f"--size {size}: must be a power of two from 4 to 1024") from None
    limit = trained_size if "meta" in checkpoint else 1024
    if size > limit:
        raise UsageError(f"--size {size}: {path} was trained up to {limit} px; "
                         f"choose --size {limit} or less")
    return step, trained_alpha if size == trained_size else 1.0


def mean_style(generator, checkpoint, rng):
    """The truncation centre: the tracked w average when the file has one, else the mean w
    of many random latents (as rosinality and StyleGAN-jittor compute it). A conditional
    model gets one centre per class, (classes, D), each the mean w of random latents of its
    class: the tracked average (the official dlatent_avg) is one over all classes, and
    truncating toward it would pull every class toward their blend."""
    code_dim, n_classes = generator.w_avg.shape[0], getattr(generator, "n_classes", 0)
    if checkpoint.get("has_w_avg") and not n_classes:
        return generator.w_avg.reshape(1, -1)
    per_class = max(MEAN_STYLE_SAMPLES // max(n_classes, 1), 1000)
    means = []
    for label in range(max(n_classes, 1)):
        z = rng.randn(per_class, code_dim).astype(np.float32)
        with jt.no_grad():
            means.append(jt.concat([
                generator.mean_style(jt.array(chunk), [label] * len(chunk) if n_classes else None)
                for chunk in np.array_split(z, 10)]).mean(0, keepdims=True))
    return jt.concat(means) if n_classes else means[0]


def make_noise(rng, count, step, per_layer=False):
    """Noise maps for blocks 0..step: one per block, or one per layer (NVIDIA's models)."""
    return [rng.randn(count, 1, 4 * 2**b, 4 * 2**b).astype(np.float32)
            for b in range(step + 1) for _ in range(2 if per_layer else 1)]


def stored_noise(choice, checkpoint, path):
    """The file's own noise maps (NVIDIA's pickles hold one per layer) for --noise stored,
    which is the default where a file has them; None means random maps."""
    maps = checkpoint.get("noise")
    if choice == "random" or (choice is None and not maps):
        return None
    if not maps:
        raise UsageError(f"--noise stored: {path} holds no noise maps (NVIDIA's pickles do); "
                         "use --noise random")
    return [np.asarray(m, dtype=np.float32) for m in maps]


class Renderer:
    """Batched generation with fixed settings (step, alpha, truncation, noise source)."""

    def __init__(self, generator, step, alpha, mean, psi, cutoff, batch, fixed_noise=None,
                 classes=None):
        """classes: a conditional model's class for every image (an int), or one per latent
        (an array)."""
        self.generator, self.step, self.alpha, self.batch = generator, step, alpha, batch
        self.truncation = dict(mean_style=mean, style_weight=psi, truncation_cutoff=cutoff)
        self.fixed_noise = fixed_noise
        self.classes = classes

    def truncation_for(self, labels):
        """The truncation settings of a batch: a conditional model's centre is its class's."""
        mean = self.truncation["mean_style"]
        if labels is None or mean is None or mean.shape[0] == 1:
            return self.truncation
        return {**self.truncation, "mean_style": mean[jt.array(labels.astype(np.int32))]}

    def labels(self, count, classes=None):
        """The class of each of `count` images (None for an unconditional model)."""
        n_classes = getattr(self.generator, "n_classes", 0)
        if not n_classes:
            return None
        classes = self.classes if classes is None else classes
        if classes is None:
            raise UsageError("a conditional model draws a class: give --class (0 to "
                             f"{n_classes - 1}, or all)")
        labels = np.broadcast_to(np.asarray(classes, dtype=np.int32), (count,))
        outside = labels[(labels < 0) | (labels >= n_classes)]
        if outside.size:
            raise UsageError(f"--class {outside[0]}: the model has classes 0 to {n_classes - 1}")
        return labels

    def noise(self, rng, count):
        per_layer = self.generator.generator.noise_per_layer
        if self.fixed_noise is None:
            return make_noise(rng, count, self.step, per_layer)
        used = (self.step + 1) * (2 if per_layer else 1)
        return [np.repeat(n[:1], count, 0) for n in self.fixed_noise[:used]]

    def __call__(self, latents, noise, mixing_range=(-1, -1), from_w=False, classes=None):
        """latents: one array of z (or w), or a list of two for mixing (both of the same
        class); NCHW in [-1, 1]."""
        latents = latents if isinstance(latents, list) else [latents]
        labels = self.labels(len(latents[0]), classes)
        images = []
        with jt.no_grad():
            for start in range(0, len(latents[0]), self.batch):
                part = slice(start, start + self.batch)
                codes = [jt.array(latent[part]) for latent in latents]
                styles = codes if from_w else [
                    self.generator.mapping(code, None if labels is None else labels[part])
                    for code in codes]
                images.append(self.generator.synthesize(
                    styles, [jt.array(n[part]) for n in noise], self.step, self.alpha,
                    mixing_range=mixing_range,
                    **self.truncation_for(None if labels is None else labels[part])).numpy())
        return np.concatenate(images)


def render_layers(generator, layer_w, noise, step, alpha, batch):
    """Images from per-layer w (N, layers, D): no mapping network, no truncation."""
    images = []
    with jt.no_grad():
        for start in range(0, len(layer_w), batch):
            part = slice(start, start + batch)
            styles = [jt.array(layer_w[part, layer]) for layer in range(layer_w.shape[1])]
            images.append(generator.generator(styles, [jt.array(n[part]) for n in noise],
                                              step, alpha).numpy())
    return np.concatenate(images)


def generated_batches(render, n, batch, rng):
    """n generated images in batches, quantised to uint8 first, as saved images would be."""
    code_dim = render.generator.w_avg.shape[0]
    per_image = render.classes is not None and np.ndim(render.classes) == 1
    for start in range(0, n, batch):
        count = min(batch, n - start)
        z = rng.randn(count, code_dim).astype(np.float32)
        classes = render.classes[start:start + count] if per_image else None
        yield to_uint8_images(render(z, render.noise(rng, count), classes=classes)
                              ).transpose(0, 3, 1, 2)
