"""Warnings when training goes wrong, each with what to try: mode collapse, D memorising the
data, divergence. Each kind warns once per resolution, on screen and in the log.

- Collapse: the variety of the fixed sample latents' images (their mean pairwise RMS
  difference per pixel) against that of real images at the same size. A collapsed generator
  draws near-identical images for different latents, so the ratio falls toward 0; a healthy
  one's stays near the data's (0.6-1.2 on the demo digits). Pixels, not Inception features:
  free at every sample grid and meaningful for any data, since both sides are measured alike.
- D memorising (ADA's overfitting statistic r_t = E[sign(D(real))]): for the losses whose
  scores mean "real" above 0 (r1, logistic, hinge), r_t near 1 means D is sure of every real
  image; ADA aims at 0.6.
- Divergence: a loss far above its usual size (its median so far).
"""
import numpy as np

from evaluation.fid import real_batches

COLLAPSE_RATIO = 0.35
OVERFIT_RT = 0.9
DIVERGENCE_FACTOR = 100
SIGNED_LOSSES = ("r1", "logistic", "hinge")
REAL_SAMPLES = 64


def variety(images):
    """Mean RMS difference per pixel over all pairs of images (N, C, H, W) in [-1, 1]."""
    flat = np.asarray(images, np.float64).reshape(len(images), -1)
    squared = (flat ** 2).sum(1)
    distances = squared[:, None] + squared[None, :] - 2 * flat @ flat.T
    pairs = np.triu_indices(len(flat), 1)
    return float(np.sqrt(np.clip(distances[pairs], 0, None) / flat.shape[1]).mean())


def real_images(dataset, resolution, count=REAL_SAMPLES):
    """`count` training images at this size (FID's seeded draw), NCHW in [-1, 1]."""
    count = min(count, len(dataset.source.files(resolution)))
    return next(real_batches(dataset, resolution, count, count)).astype(np.float32) / 127.5 - 1


class TrainingMonitor:
    def __init__(self, loss, real_variety):
        """real_variety(resolution) -> the data's variety at that size (computed once)."""
        self.loss, self.real_variety = loss, real_variety
        self.warned = set()
        self.loss_history = {"d_loss": [], "g_loss": []}

    def _once(self, kind, resolution, message):
        if (kind, resolution) in self.warned:
            return []
        self.warned.add((kind, resolution))
        return [(kind, message)]

    def check_samples(self, images, resolution):
        """[(kind, message)] for the sample grid's images (N, C, H, W) in [-1, 1]."""
        ratio = variety(images) / max(self.real_variety(resolution), 1e-12)
        if ratio >= COLLAPSE_RATIO:
            return []
        return self._once("collapse", resolution,
                          f"mode collapse at {resolution} px: the samples vary {ratio:.0%} as "
                          f"much as the training images (below {COLLAPSE_RATIO:.0%}); try "
                          f"--augment, a lower --lr, or resume from an earlier checkpoint")

    def check_losses(self, losses, resolution):
        """[(kind, message)] for one log record's figures (d_loss, g_loss, real_sign)."""
        found = []
        real_sign = losses.get("real_sign")
        if self.loss in SIGNED_LOSSES and real_sign is not None and real_sign > OVERFIT_RT:
            found += self._once("overfitting", resolution,
                                f"D is memorising the data at {resolution} px: it calls "
                                f"r_t = {real_sign:.2f} of real images real (ADA aims at 0.6); "
                                f"try --augment, more images, or a higher --r1_gamma")
        for name, history in self.loss_history.items():
            value = abs(losses[name])
            if len(history) >= 20 and value > DIVERGENCE_FACTOR * max(np.median(history), 1e-6):
                found += self._once("divergence", resolution,
                                    f"{name} {losses[name]:.3g} is over {DIVERGENCE_FACTOR}x its "
                                    f"usual size at {resolution} px: training is diverging; "
                                    f"resume from checkpoint/last.model with a lower --lr")
            history.append(value)
        return found
