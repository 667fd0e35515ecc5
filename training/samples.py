"""The sample grids training writes: the EMA generator on the same latents and noise each
time, so the grids show progress."""
import numpy as np

from imaging import grid_zoom, image_grid, save_image_atomically
from rendering import Renderer

N_SAMPLE_ROWS, N_SAMPLE_COLS = 4, 8


def fixed_sample_inputs(code_dim, step, seed, count=N_SAMPLE_ROWS * N_SAMPLE_COLS,
                        per_layer=False):
    """The same latents and noise at every sampling, so grids show progress over time;
    one noise map per block, or per layer (NVIDIA's layout)."""
    rng = np.random.RandomState(seed)
    z = rng.randn(count, code_dim).astype(np.float32)
    maps_per_block = 2 if per_layer else 1
    noise = []
    for index in range((step + 1) * maps_per_block):
        size = 4 * 2**(index // maps_per_block)
        noise.append(np.random.RandomState(seed + 1 + index).randn(count, 1, size, size)
                     .astype(np.float32))
    return z, noise


def save_samples(state, plan, path):
    z, noise = fixed_sample_inputs(state.args.code_dim, plan.step, state.args.seed,
                                   per_layer=state.g_running.generator.noise_per_layer)
    n_classes = state.g_running.n_classes  # conditional: the classes in turn, row by row
    render = Renderer(state.g_running, plan.step, plan.alpha, mean=None, psi=1, cutoff=None,
                      batch=N_SAMPLE_COLS,
                      classes=np.arange(len(z)) % n_classes if n_classes else None)
    zoom = grid_zoom(plan.resolution, getattr(state.args, "zoom", 0))
    images = render(z, noise)
    save_image_atomically(image_grid(images, N_SAMPLE_COLS, zoom=zoom), path)
    return images
