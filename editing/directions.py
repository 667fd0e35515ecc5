"""Latent directions: the mean w of positive latents minus that of the others, and images
moved along one."""
import csv
import os

import numpy as np

from cli import UsageError
from runtime import jt
from evaluation.digits import image_probabilities, trained_classifier
from formats.checkpoints import trained_resolution
from model import step_of_size
from rendering import ProjectedLatents, make_noise, render_layers


def mean_difference_direction(w, positive):
    """Unit direction from the others' mean w to the positives', times the spread of w
    along it (so strengths read in standard deviations)."""
    if positive.all() or not positive.any():
        raise UsageError("the labels need both positive and other latents")
    difference = w[positive].mean(0) - w[~positive].mean(0)
    unit = difference / np.linalg.norm(difference)
    return (unit * (w @ unit).std()).astype(np.float32)


def read_labels(path, code_dim):
    """w latents (N, D; a w+ latent counts as its mean over layers) and labels from a CSV
    of `latent.npz,label` rows (paths relative to the CSV's folder)."""
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such labels file")
    folder = os.path.dirname(os.path.abspath(path))
    with open(path, newline="") as stream:
        rows = [row for row in csv.reader(stream) if row and not row[0].startswith("#")]
    if not rows or any(len(row) != 2 for row in rows):
        raise UsageError(f"{path}: expected rows of 'latent.npz,label'")
    files = [os.path.join(folder, row[0].strip()) for row in rows]
    latents = ProjectedLatents(files, code_dim)
    w = np.stack([lw if lw.ndim == 1 else lw.mean(0) for lw in latents.layer_w])
    return w, np.array([row[1].strip() for row in rows])


def sampled_w(generator, count, rng):
    z = rng.randn(count, generator.w_avg.shape[0]).astype(np.float32)
    with jt.no_grad():
        return np.concatenate([generator.style(jt.array(part)).numpy()
                               for part in np.array_split(z, max(1, count // 256))])


def digit_probabilities(generator, layer_w, step, alpha, rng, classifier):
    """The digits.py classifier's class probabilities for images drawn from per-layer w."""
    noise = make_noise(rng, len(layer_w), step, generator.generator.noise_per_layer)
    return image_probabilities(classifier, render_layers(generator, layer_w, noise, step, alpha,
                                                         batch=128))


def shifted(layer_w, direction, strength):
    return layer_w + strength * direction


def digit_direction(generator, checkpoint, positive, samples, seed):
    """A direction toward digit `positive`, from sampled latents the classifier labels, and
    its effect on fresh samples at strength 3."""
    size, alpha = trained_resolution(checkpoint)
    step = step_of_size(size)
    n_layers = 2 * (step + 1)
    rng = np.random.RandomState(seed)
    classifier = trained_classifier()
    w = sampled_w(generator, samples, rng)
    layer_w = np.repeat(w[:, None], n_layers, 1)
    probabilities = digit_probabilities(generator, layer_w, step, alpha, rng, classifier)
    direction = mean_difference_direction(w, probabilities.argmax(1) == positive)
    fresh = np.repeat(sampled_w(generator, 512, rng)[:, None], n_layers, 1)
    noise_seed = rng.randint(2**31)
    before = digit_probabilities(generator, fresh, step, alpha,
                                 np.random.RandomState(noise_seed), classifier)
    after = digit_probabilities(generator, shifted(fresh, direction, 3.0), step, alpha,
                                np.random.RandomState(noise_seed), classifier)
    others = np.arange(10) != positive
    moved = before.argmax(1) != positive
    report = {"labelled": int((probabilities.argmax(1) == positive).sum()),
              "moved_to_positive": float((after.argmax(1)[moved] == positive).mean()),
              "positive_probability": (float(before[:, positive].mean()),
                                       float(after[:, positive].mean())),
              "other_classes_change": float(np.abs(after[:, others] - before[:, others])
                                            .sum(1).mean())}
    return direction, report


def edit_strip(generator, latents, direction, strengths, step, alpha, batch=8):
    """Rows: the projected images; columns: each moved by one strength (its own noise)."""
    n_layers = 2 * (step + 1)
    layer_w, noise = latents.styles(n_layers), latents.noise_maps()
    columns = [render_layers(generator, shifted(layer_w, direction, s), noise, step, alpha, batch)
               for s in strengths]
    return np.stack(columns, 1).reshape(-1, *columns[0].shape[1:])
