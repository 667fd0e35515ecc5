"""The MNIST digits shipped in the jittor-offline package (no download)."""
import gzip
import importlib.util
import os

import numpy as np

from cli import UsageError


class MnistMissing(UsageError):
    pass


def read_mnist(split="train", labels=False):
    """MNIST digits (N, 28, 28) uint8, or their labels (N,), from the jittor-offline package
    (no download). split: "train" (60,000) or "t10k" (10,000)."""
    spec = importlib.util.find_spec("jittor_offline")
    if spec is None or not spec.submodule_search_locations:
        raise MnistMissing("the MNIST files come with the jittor-offline package: "
                          "pip install jittor-offline==0.0.7")
    name = f"{split}-labels-idx1-ubyte.gz" if labels else f"{split}-images-idx3-ubyte.gz"
    with gzip.open(os.path.join(spec.submodule_search_locations[0], name), "rb") as stream:
        data = stream.read()
    if labels:  # header: magic, count
        return np.frombuffer(data, dtype=np.uint8, offset=8)
    count, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols)
