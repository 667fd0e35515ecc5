"""Projection of images into the latent space, renders of projected latents, directions."""
import os

import numpy as np
import pytest
from PIL import Image

import edit
import generate
import projector
from formats.checkpoints import save_checkpoint, to_numpy_tree
from conftest import NARROW
from model import StyledGenerator
from cli import UsageError
from runtime import jt
import rendering
from editing import projection as projection_lib
from editing import directions

STEP = 2  # 16 px


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    """A narrow generator, saved as a checkpoint at 16 px."""
    jt.set_seed(1)
    generator = StyledGenerator(**NARROW)
    path = str(tmp_path_factory.mktemp("ckpt") / "g.model")
    save_checkpoint({**to_numpy_tree(generator.state_dict()), "meta": {"size": 16, "alpha": 1.0}},
                    path)
    return generator, path


def test_learning_rate_ramps_and_latent_noise_fades():
    assert projection_lib.learning_rate(0, 0.1) == 0
    assert projection_lib.learning_rate(0.05, 0.1) == pytest.approx(0.1)
    assert projection_lib.learning_rate(0.5, 0.1) == pytest.approx(0.1)
    assert projection_lib.learning_rate(0.875, 0.1) == pytest.approx(0.05)  # half-way down the cosine
    assert projection_lib.latent_noise_scale(0, 2.0) == pytest.approx(0.1)
    assert projection_lib.latent_noise_scale(0.75, 2.0) == 0


def test_noise_regularisation_sees_correlated_noise():
    rng = np.random.RandomState(0)
    white = jt.array(rng.randn(1, 1, 16, 16).astype(np.float32))
    smooth = jt.array(np.repeat(np.repeat(rng.randn(1, 1, 8, 8), 2, 2), 2, 3).astype(np.float32))
    assert projection_lib.noise_regularisation([smooth]).item() > \
        20 * projection_lib.noise_regularisation([white]).item()


class PixelDistance:
    """Stands in for LPIPS (same interface): squared pixel error, so the loop is tested
    fast and on a convex-enough objective; the real LPIPS runs in the CLI test."""

    def normalised_taps(self, images):
        return [images]

    def distance_between(self, taps0, taps1):
        return sum(((a - b) ** 2).mean([1, 2, 3]) for a, b in zip(taps0, taps1))


def test_projection_recovers_a_latent_the_generator_drew(narrow):
    """Target drawn from a sampled w (moved half-way to the mean, as truncated samples are)
    with known noise: fitting w from the mean gets that w back."""
    generator, _ = narrow
    mean, _ = projection_lib.w_statistics(generator, np.random.RandomState(0))
    with jt.no_grad():
        w = generator.style(jt.array(np.random.RandomState(3).randn(2, 16).astype(np.float32)))
        w = mean + 0.5 * (w.numpy() - mean)
        noise = [n.numpy() for n in generator.make_noise(2, STEP)]
        target = generator.generator([jt.array(w)] * 6, [jt.array(n) for n in noise], STEP,
                                     1).numpy()
    _, projection = projection_lib.project(generator, target, STEP, 1, PixelDistance(), "w",
                                      steps=100, fixed_noise=noise, progress=False)
    assert (projection.psnr > 35).all(), projection.psnr
    assert np.linalg.norm(projection.latent - w, axis=1).max() < 0.05 * np.linalg.norm(w - mean)


@pytest.mark.parametrize("space", ["w", "w+"])
def test_an_image_projects_alone_as_it_does_in_a_batch(narrow, space):
    """Noise maps, their regulariser and their renormalisation, latent noise: nothing of one
    image depends on the others, so image 0 alone and among 7 others fits the same."""
    generator, _ = narrow
    with jt.no_grad():
        targets = generator(jt.array(np.random.RandomState(5).randn(8, 16).astype(np.float32)),
                            step=STEP).numpy()
    runs = [projection_lib.project(generator, batch, STEP, 1, PixelDistance(), space, steps=30,
                                   noise_regularize=1e3, progress=False)[1]
            for batch in (targets[:1], targets)]
    alone, together = runs
    np.testing.assert_allclose(alone.latent[0], together.latent[0], rtol=1e-4, atol=1e-5)
    for a, b in zip(alone.noise, together.noise):
        np.testing.assert_allclose(a[0], b[0], rtol=1e-4, atol=1e-4)
    assert np.abs(together.latent[0] - together.latent[1]).max() > 1e-3  # it fitted each


def test_noise_regularisation_and_normalisation_are_per_image():
    rng = np.random.RandomState(0)
    white = rng.randn(1, 1, 16, 16).astype(np.float32)
    smooth = np.repeat(np.repeat(rng.randn(1, 1, 8, 8), 2, 2), 2, 3).astype(np.float32) * 3 + 1
    alone = [projection_lib.noise_regularisation([jt.array(x)]).item() for x in (white, smooth)]
    both = projection_lib.noise_regularisation([jt.array(np.concatenate([white, smooth]))])
    assert both.item() == pytest.approx(sum(alone), rel=1e-5)
    maps = projection_lib.normalised(jt.array(np.concatenate([white, smooth]))).numpy()
    np.testing.assert_allclose(maps.mean((1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(maps.std((1, 2, 3)), 1, rtol=1e-4)


def test_cli_writes_renderable_latents_and_real_mixing(narrow, tmp_path, capsys):
    generator, path = narrow
    rng = np.random.RandomState(0)
    sources = []
    for index, size in enumerate((40, 23)):  # any size and mode: cropped and resized
        pixels = rng.randint(0, 255, (size, size + 7, 3)).astype(np.uint8)
        sources.append(str(tmp_path / f"real{index}.png"))
        Image.fromarray(pixels).convert("RGB" if index else "L").save(sources[-1])
    out = tmp_path / "projected"
    written = projector.main([path, *sources, "--steps", "5", "--space", "w+", "--out", str(out),
                              "--device", "cpu"])
    assert sorted(os.listdir(out)) == ["real0.npz", "real0.png", "real0_side.png",
                                       "real1.npz", "real1.png", "real1_side.png"]
    assert "LPIPS" in capsys.readouterr().out
    saved = np.load(written[0])
    assert saved["latent"].shape == (6, 16) and str(saved["space"]) == "w+"
    assert int(saved["size"]) == 16 and saved["noise_0"].shape == (1, 1, 4, 4)
    assert Image.open(out / "real0_side.png").size == (2 * 16 + 3 * 2, 16 + 4)
    # generate.py renders the .npz back to the projector's own reconstruction
    renders = generate.main([path, "--latents", *written, "--out", str(tmp_path / "renders"),
                             "--zoom", "1", "--mixing_with", "random", "--n_row", "3",
                             "--device", "cpu"])
    assert [os.path.basename(p) for p in renders] == ["latents.png", "real_mixing.png"]
    rendered = np.asarray(Image.open(renders[0]))[2:18, 2:18]
    reconstruction = np.asarray(Image.open(out / "real0.png"))
    assert np.abs(rendered.astype(int) - reconstruction).max() <= 1
    assert Image.open(renders[1]).size == (3 * 18 + 2, 4 * 18 + 2)  # sources + 3 target rows


def test_real_mixing_takes_the_sources_styles_in_the_range():
    target = np.zeros((1, 6, 4), np.float32)
    source = np.ones((1, 6, 4), np.float32)
    mixed = rendering.mixed_layers(target, source, (1, 2))
    assert mixed[0, :, 0].tolist() == [0, 0, 1, 1, 1, 1]


def test_mean_difference_direction_points_along_the_label_and_reads_in_std():
    rng = np.random.RandomState(0)
    w = rng.randn(400, 8).astype(np.float32)
    positive = np.arange(400) < 200
    w[positive, 3] += 4
    direction = directions.mean_difference_direction(w, positive)
    unit = direction / np.linalg.norm(direction)
    assert abs(unit[3]) > 0.99 and unit[3] > 0
    assert np.linalg.norm(direction) == pytest.approx((w @ unit).std(), rel=1e-5)


def test_edit_apply_and_bad_inputs(narrow, tmp_path):
    generator, path = narrow
    latent = str(tmp_path / "a.npz")
    np.savez(latent, latent=np.zeros(16, np.float32), space="w", size=16, alpha=1.0,
             **{f"noise_{k}": np.zeros((1, 1, 4 * 2**(k), 4 * 2**(k)), np.float32)
                for k in range(3)})
    direction = str(tmp_path / "d.npy")
    np.save(direction, np.ones(16, np.float32))
    strip = edit.main(["apply", path, latent, "--direction", direction, "--strengths", "-1", "0",
                       "1", "--out", str(tmp_path / "edit.png"), "--device", "cpu"])
    assert strip.shape == (3, 3, 16, 16) and not np.allclose(strip[0], strip[2])
    assert Image.open(tmp_path / "edit.png").size == (3 * 18 + 2, 18 + 2)
    np.save(direction, np.ones(5, np.float32))
    with pytest.raises(UsageError, match="d.npy: holds shape \\(5,\\), not a w direction of size 16"):
        edit.main(["apply", path, latent, "--direction", direction, "--device", "cpu"])
    with pytest.raises(UsageError, match="nope.png: no such image file"):
        projector.main([path, str(tmp_path / "nope.png"), "--device", "cpu"])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(UsageError, match="broken.png: cannot read the image"):
        projector.main([path, str(broken), "--out", str(tmp_path / "p"), "--device", "cpu"])
    with pytest.raises(UsageError, match="--steps 0: must be at least 1"):
        projector.main([path, str(broken), "--steps", "0", "--device", "cpu"])
    with pytest.raises(UsageError, match="b.npz: not a latent file of projector.py"):
        (tmp_path / "b.npz").write_bytes(b"junk")
        generate.main([path, "--latents", str(tmp_path / "b.npz"), "--out", str(tmp_path / "r"),
                       "--device", "cpu"])
    with pytest.raises(UsageError, match="--mixing_with needs --latents"):
        generate.main([path, "--mixing_with", "random", "--device", "cpu"])


def test_projects_with_nvidias_pickles(tmp_path):
    """Per-layer noise maps are fitted, saved and rendered back the same."""
    from conftest import data_path

    official = data_path("official_small_32.pkl")
    image = str(tmp_path / "photo.png")
    Image.fromarray(np.random.RandomState(1).randint(0, 255, (50, 50, 3)).astype(np.uint8)).save(image)
    written = projector.main([official, image, "--steps", "2", "--out", str(tmp_path / "p"),
                              "--device", "cpu"])
    saved = np.load(written[0])
    assert saved["latent"].shape == (32,) and "noise_7" in saved.files and int(saved["size"]) == 32
    renders = generate.main([official, "--latents", written[0], "--out", str(tmp_path / "r"),
                             "--zoom", "1", "--device", "cpu"])
    rendered = np.asarray(Image.open(renders[0]))[2:34, 2:34].astype(int)
    assert np.abs(rendered - np.asarray(Image.open(tmp_path / "p" / "photo.png"))).max() <= 1
