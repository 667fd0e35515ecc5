"""Sample grids and style-mixing grids (random or projected images)."""
import numpy as np

from runtime import jt
from imaging import image_grid
from model import truncate
from rendering.renderer import render_layers


def mixed_layers(target_w, source_w, mixing_range):
    """The target's per-layer w with the source's in the blocks of mixing_range."""
    low, high = mixing_range
    mixed = target_w.copy()
    for layer in range(target_w.shape[1]):
        if low <= layer // 2 <= high:
            mixed[:, layer] = source_w[:, layer]
    return mixed


def real_mixing_grid(generator, step, alpha, batch, latents, targets, mixing_range, zoom=1):
    """Top row: the projected images (sources); left column: targets (random samples or
    other projected images); each cell: the target with the source's styles in
    mixing_range, and the target's noise."""
    n_layers = 2 * (step + 1)
    source_w, source_noise = latents.styles(n_layers), latents.noise_maps()
    target_w, target_noise = targets
    size = 4 * 2**step
    rows = [np.concatenate([-np.ones((1, 3, size, size), np.float32),
                            render_layers(generator, source_w, source_noise, step, alpha, batch)])]
    target_images = render_layers(generator, target_w, target_noise, step, alpha, batch)
    count = len(source_w)
    for i in range(len(target_w)):
        row_w = np.repeat(target_w[i:i + 1], count, 0)
        row_noise = [np.repeat(n[i:i + 1], count, 0) for n in target_noise]
        mixed = render_layers(generator, mixed_layers(row_w, source_w, mixing_range), row_noise,
                              step, alpha, batch)
        rows.append(np.concatenate([target_images[i:i + 1], mixed]))
    return image_grid(np.concatenate(rows), count + 1, zoom=zoom)


def random_targets(render, rng, count):
    """Per-layer w (truncated as the samples are) and noise of `count` random images."""
    code_dim, n_layers = render.generator.w_avg.shape[0], 2 * (render.step + 1)
    z = rng.randn(count, code_dim).astype(np.float32)
    labels = render.labels(count)
    with jt.no_grad():
        w = render.generator.mapping(jt.array(z), labels)
        layers = [w] * n_layers
        truncation = render.truncation_for(labels)
        if truncation["mean_style"] is not None:
            layers = truncate(layers, truncation["mean_style"], truncation["style_weight"],
                              truncation["truncation_cutoff"])
        layer_w = np.stack([layer.numpy() for layer in layers], 1)
    return layer_w, render.noise(rng, count)


def sample_grid(render, rng, code_dim, n_row, n_col, zoom=1):
    z = rng.randn(n_row * n_col, code_dim).astype(np.float32)
    return image_grid(render(z, render.noise(rng, len(z))), n_col, zoom=zoom)


def style_mixing_images(render, rng, code_dim, n_source, n_target, mixing_range):
    """Sources (n_source images), targets (n_target) and the mixed cells (n_target rows of
    n_source): each cell is its row's target with its column's source styles in
    mixing_range. Each row keeps its target's noise."""
    source = rng.randn(n_source, code_dim).astype(np.float32)
    target = rng.randn(n_target, code_dim).astype(np.float32)
    source_noise = render.noise(rng, n_source)
    target_noise = render.noise(rng, n_target)
    rows = []
    for i in range(n_target):
        row_noise = [np.repeat(n[i:i + 1], n_source, 0) for n in target_noise]
        rows.append(render([np.repeat(target[i:i + 1], n_source, 0), source], row_noise,
                           mixing_range=mixing_range))
    return render(source, source_noise), render(target, target_noise), np.stack(rows)


def style_mixing_grid(render, rng, code_dim, n_source, n_target, mixing_range, zoom=1):
    """Top row: sources; left column: targets; each cell: the target with the source's
    styles in mixing_range."""
    sources, targets, cells = style_mixing_images(render, rng, code_dim, n_source, n_target,
                                                  mixing_range)
    size = 4 * 2**render.step
    rows = [np.concatenate([-np.ones((1, 3, size, size), np.float32), sources])]
    rows += [np.concatenate([targets[i:i + 1], cells[i]]) for i in range(n_target)]
    return image_grid(np.concatenate(rows), n_source + 1, zoom=zoom)


def coarse_blocks(step):
    """The default mixing range. In a 16 px model the 8 px block is a third of the model: with
    the 4 and 8 px styles from the source, every row of the demo's grids drew its source's
    digit and the rows barely differed; with the 4 px style alone they mix."""
    return (0, 1) if step >= 3 else (0, 0)
