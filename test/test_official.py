"""NVIDIA's official pickles: read without TensorFlow, outputs equal to NVIDIA's own."""
import numpy as np
import pytest
from PIL import Image

import generate
from formats.checkpoints import (generator_options, load_discriminator, load_generator, load_state,
                        read_checkpoint, save_checkpoint)
from conftest import data_path
from formats.official import OFFICIAL_GLOBALS, noise_maps
from formats.safe_pickle import load_pickle
from cli import UsageError
from runtime import jt
import rendering

SIZES = {"small_32": 3, "medium_128": 5}  # file -> step (32 px: 3, 128 px with fused convs: 5)


def relative(ours, reference):
    ours = ours.numpy() if isinstance(ours, jt.Var) else ours
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


@pytest.mark.parametrize("name", sorted(SIZES))
def test_official_generator_matches_nvidia_outputs(name):
    path = data_path(f"official_{name}.pkl")
    reference = np.load(data_path(f"official_{name}_outputs.npz"))
    generator, checkpoint = load_generator(path)
    step = SIZES[name]
    assert checkpoint["meta"]["size"] == 4 * 2**step and len(checkpoint["noise"]) == 2 * (step + 1)
    noise = [jt.array(np.repeat(n, 4, 0)) for n in checkpoint["noise"]]  # the file's own maps
    z, z2 = jt.array(reference["z"]), jt.array(reference["z2"])
    with jt.no_grad():
        assert relative(generator.style(z), reference["dlatents"][:, 0]) < 1e-4
        assert relative(generator(z, noise=noise, step=step, alpha=1), reference["images_psi1"]) < 1e-4
        truncated = generator(z, noise=noise, step=step, alpha=1, mean_style=generator.w_avg,
                              style_weight=0.7, truncation_cutoff=8)
        assert relative(truncated, reference["images_psi07_cut8"]) < 1e-4
        mixed = generator([z, z2], noise=noise, step=step, alpha=1, mixing_range=(2, 8))
        assert relative(mixed, reference["images_mixed"]) < 1e-4


@pytest.mark.parametrize("name", sorted(SIZES))
def test_official_discriminator_matches_nvidia_scores(name):
    reference = np.load(data_path(f"official_{name}_outputs.npz"))
    discriminator, _ = load_discriminator(data_path(f"official_{name}.pkl"))
    images = jt.array(reference["rand_images"])
    with jt.no_grad():  # 8 images: two strided stddev groups of 4; 2 images: one group of 2
        assert relative(discriminator(images, step=SIZES[name], alpha=1),
                        reference["d_scores_rand_images"]) < 1e-4
        assert relative(discriminator(images[:2], step=SIZES[name], alpha=1),
                        reference["d_scores_rand_images_first2"]) < 1e-4


def test_training_generator_is_g_and_the_ema_one_is_gs():
    """The file's G and Gs differ: generation uses Gs; the checkpoint's `generator` is G."""
    from model import StyledGenerator

    path = data_path("official_small_32.pkl")
    reference = np.load(data_path("official_small_32_outputs.npz"))
    gs, checkpoint = load_generator(path)
    g = StyledGenerator(**generator_options(checkpoint, checkpoint["generator"]))
    load_state(g, checkpoint["generator"], "generator", path)
    g_network = load_pickle(open(path, "rb").read(), OFFICIAL_GLOBALS)[0]
    noise = [jt.array(np.repeat(n, 4, 0)) for n in noise_maps(g_network)]  # G's own maps
    z = jt.array(reference["z"])
    with jt.no_grad():
        assert relative(g(z, noise=noise, step=3, alpha=1), reference["images_G_psi1"]) < 1e-4
        assert relative(gs(z, noise=noise, step=3, alpha=1), reference["images_G_psi1"]) > 0.01


def test_writer_follows_nvidias_layout_exactly():
    """The benchmark's full-size pickle comes from this writer: with the small file's
    settings it must give the names, shapes, order and kwargs NVIDIA's code wrote."""
    from official_writer import official_pickle

    real = load_pickle(open(data_path("official_small_32.pkl"), "rb").read(), OFFICIAL_GLOBALS)
    ours = load_pickle(official_pickle(32, fmap_base=256, fmap_max=32, latent=32,
                                       mapping_layers=2), OFFICIAL_GLOBALS)

    def layout(network):
        return {"name": network["name"], "build": network["build_func_name"],
                "kwargs": network["static_kwargs"],
                "variables": [(name, np.shape(value), np.asarray(value).dtype)
                              for name, value in network["variables"].items()],
                "components": {key: layout(value) for key, value in network["components"].items()}}

    for real_network, our_network in zip(real, ours):
        assert layout(our_network) == layout(real_network)


def test_official_file_converts_to_ours_and_loads_the_same(tmp_path):
    import checkpoint as checkpoint_script

    path = data_path("official_small_32.pkl")
    converted = str(tmp_path / "converted.model")
    checkpoint_script.main(["convert", path, converted])
    original, checkpoint = load_generator(path)
    again, _ = load_generator(converted)
    noise = [jt.array(np.repeat(n, 2, 0)) for n in checkpoint["noise"]]
    z = jt.array(np.random.RandomState(0).randn(2, 32).astype(np.float32))
    with jt.no_grad():
        assert np.array_equal(original(z, noise=noise, step=3).numpy(),
                              again(z, noise=noise, step=3).numpy())
    assert np.array_equal(original.w_avg.numpy(), again.w_avg.numpy())


def test_generate_renders_nvidias_default_truncation_with_the_stored_noise():
    path = data_path("official_small_32.pkl")
    reference = np.load(data_path("official_small_32_outputs.npz"))
    generator, checkpoint = load_generator(path)
    render = rendering.Renderer(generator, 3, 1.0, generator.w_avg.reshape(1, -1), 0.7, 8, 3,
                               rendering.stored_noise(None, checkpoint, path))
    rng = np.random.RandomState(0)
    images = render(reference["z"], render.noise(rng, 4))  # batches of 3 and 1
    assert relative(images, reference["images_psi07_cut8"]) < 1e-4
    render.fixed_noise = rendering.stored_noise("random", checkpoint, path)
    assert relative(render(reference["z"], render.noise(rng, 4)),
                    reference["images_psi07_cut8"]) > 1e-3


def test_generate_noise_choice(tmp_path, capsys):

    def sample(name, *extra):
        out = tmp_path / name
        generate.main([data_path("official_small_32.pkl"), "--out", str(out), "--n_row", "1",
                       "--n_col", "2", "--n_mixing", "0", "--device", "cpu", *extra])
        return np.asarray(Image.open(out / "sample.png"))

    default, stored, random = sample("default"), sample("stored", "--noise", "stored"), \
        sample("random", "--noise", "random")
    assert np.array_equal(default, stored) and not np.array_equal(default, random)
    assert "32 px, truncation 0.7, stored noise" in capsys.readouterr().out
    ours = str(tmp_path / "ours.model")
    converted = read_checkpoint(data_path("official_small_32.pkl"))
    del converted["noise"]
    save_checkpoint(converted, ours)
    with pytest.raises(UsageError, match="ours.model holds no noise maps.*--noise random"):
        generate.main([ours, "--out", str(tmp_path / "x"), "--noise", "stored",
                       "--device", "cpu"])


def test_generate_draws_official_models(tmp_path):
    written = generate.main([data_path("official_medium_128.pkl"), "--out", str(tmp_path),
                             "--n_row", "1", "--n_col", "2", "--n_mixing", "1", "--device", "cpu"])
    sample = Image.open(written[0])
    assert sample.size[1] == 128 + 4  # one row of 128 px images with the grid's padding


def test_a_labelled_network_of_nvidia_s_code_loads_and_matches_its_outputs(tmp_path):
    """label_size 4 (made by NVIDIA's code, make_labelled_reference.py): the label embedding
    joins z in the mapping, D takes the label's score; same latents and labels, same w,
    images and scores. The file trains on (--from) as a conditional model."""
    path = data_path("official_labelled_32.pkl")
    reference = np.load(data_path("official_labelled_32_outputs.npz"))
    generator, checkpoint = load_generator(path)
    discriminator, _ = load_discriminator(path)
    assert generator.n_classes == discriminator.n_classes == 4
    assert checkpoint["meta"]["class_names"] == ["0", "1", "2", "3"]
    labels, other = (reference[k].argmax(1) for k in ("labels", "other_labels"))
    noise = [jt.array(np.repeat(n, 4, 0)) for n in checkpoint["noise"]]
    z = jt.array(reference["z"])
    with jt.no_grad():
        assert relative(generator.mapping(z, labels), reference["dlatents"][:, 0]) < 1e-4
        images = generator(z, noise=noise, step=3, alpha=1, labels=labels)
        assert relative(images, reference["images_psi1"]) < 1e-4
        truncated = generator(z, noise=noise, step=3, alpha=1, labels=labels,
                              mean_style=generator.w_avg, style_weight=0.7, truncation_cutoff=8)
        assert relative(truncated, reference["images_psi07_cut8"]) < 1e-4
        real = jt.array(reference["images_psi1"])
        assert relative(discriminator(real, step=3, alpha=1, labels=labels),
                        reference["d_scores"]) < 1e-4
        assert relative(discriminator(real, step=3, alpha=1, labels=other),
                        reference["d_scores_other"]) < 1e-4
    assert relative(reference["d_scores"], reference["d_scores_other"]) > 0.01
