"""Images from a generator: batched rendering with fixed settings (truncation, noise), the
truncation centre, noise maps, style mixing, projected latents and latent walks.

Every script that draws images (generate, train's sample grids, metrics, projector, edit,
digits) uses this module, so one set of settings always gives the same pixels.
"""
import numpy as np

from cli import UsageError
from runtime import jt
from formats.checkpoints import trained_resolution
from imaging import image_grid, to_uint8_images
from model import step_of_size, truncate

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
    of many random latents (as rosinality and StyleGAN-jittor compute it)."""
    if checkpoint.get("has_w_avg"):
        return generator.w_avg.reshape(1, -1)
    code_dim = generator.w_avg.shape[0]
    z = rng.randn(MEAN_STYLE_SAMPLES, code_dim).astype(np.float32)
    with jt.no_grad():
        return jt.concat([generator.mean_style(jt.array(chunk)) for chunk in
                          np.split(z, 10)]).mean(0, keepdims=True)


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

    def __init__(self, generator, step, alpha, mean, psi, cutoff, batch, fixed_noise=None):
        self.generator, self.step, self.alpha, self.batch = generator, step, alpha, batch
        self.truncation = dict(mean_style=mean, style_weight=psi, truncation_cutoff=cutoff)
        self.fixed_noise = fixed_noise

    def noise(self, rng, count):
        per_layer = self.generator.generator.noise_per_layer
        if self.fixed_noise is None:
            return make_noise(rng, count, self.step, per_layer)
        used = (self.step + 1) * (2 if per_layer else 1)
        return [np.repeat(n[:1], count, 0) for n in self.fixed_noise[:used]]

    def __call__(self, latents, noise, mixing_range=(-1, -1), from_w=False):
        """latents: one array of z (or w), or a list of two for mixing; NCHW in [-1, 1]."""
        latents = latents if isinstance(latents, list) else [latents]
        images = []
        with jt.no_grad():
            for start in range(0, len(latents[0]), self.batch):
                part = slice(start, start + self.batch)
                codes = [jt.array(latent[part]) for latent in latents]
                styles = codes if from_w else [self.generator.style(code) for code in codes]
                images.append(self.generator.synthesize(
                    styles, [jt.array(n[part]) for n in noise], self.step, self.alpha,
                    mixing_range=mixing_range, **self.truncation).numpy())
        return np.concatenate(images)


class ProjectedLatents:
    """Latents and noise maps of projector.py's .npz files, as per-layer w (N, layers, D)."""

    def __init__(self, paths, code_dim):
        self.layer_w, self.noise, sizes = [], [], set()
        for path in paths:
            try:
                with np.load(path) as saved:
                    latent = np.asarray(saved["latent"], np.float32)
                    sizes.add(int(saved["size"]))
                    maps = [np.asarray(saved[f"noise_{k}"], np.float32)
                            for k in range(sum(name.startswith("noise_") for name in saved.files))]
            except (OSError, KeyError, ValueError) as error:
                raise UsageError(f"{path}: not a latent file of projector.py ({error})") from None
            if latent.shape[-1] != code_dim:
                raise UsageError(f"{path}: latent of size {latent.shape[-1]}, but the checkpoint's "
                                 f"w has {code_dim}: project with this checkpoint")
            self.layer_w.append(latent)
            self.noise.append(maps)
        if len(sizes) > 1:
            raise UsageError(f"--latents: files projected at different sizes ({sorted(sizes)} px)")
        self.size = sizes.pop()

    def styles(self, n_layers):
        """(N, n_layers, D): a w latent repeated per layer, a w+ one as it is."""
        return np.stack([np.repeat(w[None], n_layers, 0) if w.ndim == 1 else w[:n_layers]
                         for w in self.layer_w])

    def noise_maps(self):
        return [np.concatenate(maps) for maps in zip(*self.noise)]


def read_direction(path, code_dim):
    """A w direction written by `edit.py direction`, checked against the model's w size."""
    try:
        direction = np.load(path).astype(np.float32)
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: not a direction file ({error})") from None
    if direction.shape != (code_dim,):
        raise UsageError(f"{path}: holds shape {direction.shape}, not a w direction "
                         f"of size {code_dim}")
    return direction


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
    with jt.no_grad():
        w = render.generator.style(jt.array(z))
        layers = [w] * n_layers
        if render.truncation["mean_style"] is not None:
            layers = truncate(layers, render.truncation["mean_style"],
                              render.truncation["style_weight"],
                              render.truncation["truncation_cutoff"])
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


def slerp(a, b, t):
    a_unit, b_unit = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(a_unit, b_unit), -1, 1))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def latent_walk(render, rng, code_dim, n_frames, space, n_keys=4):
    """A closed loop through n_keys random latents: slerp in z, or lerp in w; fixed noise."""
    keys = rng.randn(n_keys, code_dim).astype(np.float32)
    if space == "w":
        with jt.no_grad():
            keys = render.generator.style(jt.array(keys)).numpy()
    frames = []
    for f in range(n_frames):
        position = f * n_keys / n_frames
        a, b, t = keys[int(position)], keys[(int(position) + 1) % n_keys], position % 1
        frames.append(slerp(a, b, t) if space == "z" else (1 - t) * a + t * b)
    noise = [np.repeat(n, n_frames, 0) for n in render.noise(rng, 1)]
    return render(np.stack(frames).astype(np.float32), noise, from_w=space == "w")


def coarse_blocks(step):
    """The default mixing range. In a 16 px model the 8 px block is a third of the model: with
    the 4 and 8 px styles from the source, every row of the demo's grids drew its source's
    digit and the rows barely differed; with the 4 px style alone they mix."""
    return (0, 1) if step >= 3 else (0, 0)


def generated_batches(render, n, batch, rng):
    """n generated images in batches, quantised to uint8 first, as saved images would be."""
    code_dim = render.generator.w_avg.shape[0]
    for start in range(0, n, batch):
        count = min(batch, n - start)
        z = rng.randn(count, code_dim).astype(np.float32)
        yield to_uint8_images(render(z, render.noise(rng, count))).transpose(0, 3, 1, 2)
