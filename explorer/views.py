"""Images of one checkpoint for explorer settings: per-layer w from the seeds, mixing,
interpolation, truncation and directions, then the synthesis network. The per-layer w and
the noise maps are exactly what a latent file holds, so `generate.py --latents` draws the same
image from the file the page downloads."""
import io
import os
from collections import OrderedDict

import numpy as np
from PIL import Image

from formats.checkpoints import load_generator
from imaging import to_uint8_images
from rendering import choose_size, make_noise, mean_style, render_layers, stored_noise
from runtime import jt

STRIP_NEIGHBOURS = 3  # seeds either side in the strip of thumbnails
W_CACHE = 256


def block_presets(blocks):
    """The paper's coarse (4-8 px), middle (16-32 px) and fine (64 px and up) styles, as
    the block numbers this model has."""
    return {"coarse": [b for b in (0, 1) if b < blocks],
            "middle": [b for b in (2, 3) if b < blocks],
            "fine": list(range(4, blocks))}


class ModelView:
    """One checkpoint, ready to draw: its generator at the trained size, truncation centre
    and stored noise maps."""

    def __init__(self, path):
        self.path = path
        self.generator, checkpoint = load_generator(path)
        self.step, self.alpha = choose_size(None, checkpoint, path)
        self.size = 4 * 2**self.step
        self.blocks = self.step + 1
        self.layers = 2 * self.blocks
        self.code_dim = self.generator.w_avg.shape[0]
        self.per_layer_noise = self.generator.generator.noise_per_layer
        # one centre per class for a conditional model (rendering.mean_style)
        self.mean_w = mean_style(self.generator, checkpoint, np.random.RandomState(0)).numpy()
        self.class_names = list((checkpoint.get("meta") or {}).get("class_names")
                                or map(str, range(self.generator.n_classes)))
        self.stored = stored_noise(None, checkpoint, path)
        self._w = OrderedDict()

    def w_of_seed(self, seed, label=0):
        """The mapping network's w for z = RandomState(seed).randn(1, code_dim) (and, for a
        conditional model, the class)."""
        key = (seed, label)
        if key not in self._w:
            z = np.random.RandomState(seed).randn(1, self.code_dim).astype(np.float32)
            labels = [label] if self.generator.n_classes else None
            with jt.no_grad():
                self._w[key] = self.generator.mapping(jt.array(z), labels).numpy()[0]
            if len(self._w) > W_CACHE:
                self._w.popitem(last=False)
        self._w.move_to_end(key)
        return self._w[key]

    def layer_w(self, settings, directions, seed=None):
        """(layers, code_dim): A's w (or A to B), B's in the mixed blocks, truncated toward
        the average (the class's) in the layers below cutoff, then moved along each
        direction."""
        w_a = self.w_of_seed(settings.seed if seed is None else seed, settings.label)
        w_b = self.w_of_seed(settings.mix, settings.label)
        base = w_a if settings.lerp == 0 else ((1 - settings.lerp) * w_a + settings.lerp * w_b)
        layers = np.repeat(base[None].astype(np.float32), self.layers, 0)
        for layer in range(self.layers):
            if layer // 2 in settings.blocks:
                layers[layer] = w_b
        cutoff = self.layers if settings.cutoff is None else settings.cutoff
        mean_w = self.mean_w[settings.label if len(self.mean_w) > 1 else 0]
        layers[:cutoff] = mean_w + np.float32(settings.psi) * (layers[:cutoff] - mean_w)
        for direction, strength in zip(directions, settings.strengths):
            if strength:
                layers += np.float32(strength) * direction
        return layers.astype(np.float32)

    def noise(self, settings):
        """One set of maps: the file's own, drawn from noise_seed, or zeros."""
        if settings.noise == "stored":
            used = self.blocks * (2 if self.per_layer_noise else 1)
            return [maps[:1] for maps in self.stored[:used]]
        maps = make_noise(np.random.RandomState(settings.noise_seed), 1, self.step,
                          self.per_layer_noise)
        return [np.zeros_like(m) for m in maps] if settings.noise == "off" else maps

    def images(self, layer_w, noise):
        """uint8 (N, H, W, 3) from per-layer w (N, layers, code_dim)."""
        count = len(layer_w)
        noise = [np.repeat(maps, count, 0) for maps in noise]
        return to_uint8_images(render_layers(self.generator, layer_w, noise, self.step,
                                             self.alpha, count))

    def png(self, settings, directions):
        image = self.images(self.layer_w(settings, directions)[None], self.noise(settings))[0]
        return png_bytes(image)

    def strip_png(self, settings, directions):
        """The seeds around settings.seed side by side, each as the main image would be."""
        seeds = [max(0, settings.seed + offset)
                 for offset in range(-STRIP_NEIGHBOURS, STRIP_NEIGHBOURS + 1)]
        layer_w = np.stack([self.layer_w(settings, directions, seed) for seed in seeds])
        return png_bytes(np.concatenate(list(self.images(layer_w, self.noise(settings))), 1))

    def latent_npz(self, settings, directions):
        """A latent file as projector.py writes them: w+ (layers, code_dim), its noise maps
        and size."""
        stream = io.BytesIO()
        noise = self.noise(settings)
        np.savez(stream, latent=self.layer_w(settings, directions), size=np.int64(self.size),
                 **{f"noise_{index}": maps for index, maps in enumerate(noise)})
        return stream.getvalue()

    def describe(self, name):
        return {"name": name, "file": os.path.basename(self.path), "path": self.path,
                "size": self.size, "blocks": self.blocks, "layers": self.layers,
                "stored_noise": self.stored is not None, "presets": block_presets(self.blocks),
                "classes": self.class_names}


def png_bytes(image):
    stream = io.BytesIO()
    Image.fromarray(image).save(stream, format="PNG")
    return stream.getvalue()
