"""Latents and directions read from files: projector.py's .npz latents, edit.py's directions."""
import numpy as np

from cli import UsageError


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
