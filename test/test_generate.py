import os

import numpy as np
import pytest
from PIL import Image

import generate
from formats.checkpoints import load_generator, save_checkpoint, to_numpy_tree
from imaging import to_uint8_images
from conftest import NARROW, trained_looking_generator
from cli import UsageError
from runtime import jt
from pt_writer import write_pt_zip
import rendering


@pytest.fixture(scope="module")
def generator_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    g, _ = trained_looking_generator()
    g.update_w_avg(jt.array(np.full(NARROW["code_dim"], 0.5, np.float32)), beta=0)
    state = to_numpy_tree(g.state_dict())
    ours = str(folder / "000100.model")
    save_checkpoint({**state, "meta": {"size": 16, "alpha": 1.0}}, ours)
    foreign_state = {k: v for k, v in state.items() if k != "w_avg"}
    stylegan_jittor = str(folder / "FFHQ_80000.model")
    jt.save({k: jt.array(v) for k, v in foreign_state.items()}, stylegan_jittor)
    rosinality = str(folder / "train_step-5.model")
    write_pt_zip({"g_running": foreign_state, "generator": foreign_state}, rosinality)
    return {"ours": ours, "stylegan_jittor": stylegan_jittor, "rosinality": rosinality}


def run(ckpt, out, *extra):
    return generate.main([ckpt, "--out", str(out), "--device", "cpu", *extra])


def test_grids_have_exact_sizes(generator_files, tmp_path):
    written = run(generator_files["ours"], tmp_path, "--n_row", "2", "--n_col", "3",
                  "--n_mixing", "2", "--size", "8", "--zoom", "1")
    assert [os.path.basename(p) for p in written] == ["sample.png", "sample_mixing_0.png",
                                                      "sample_mixing_1.png"]
    assert Image.open(tmp_path / "sample.png").size == (3 * 10 + 2, 2 * 10 + 2)
    mixing = np.asarray(Image.open(tmp_path / "sample_mixing_1.png"))
    assert mixing.shape == (3 * 10 + 2, 4 * 10 + 2, 3)  # (targets + 1) x (sources + 1) cells
    assert (mixing[2:10, 2:10] == 0).all()  # the empty corner cell is black


def test_small_grids_are_enlarged_by_nearest_neighbour(generator_files, tmp_path):
    """By default each 8 px image shows at 64 px: the --zoom 1 grid, every pixel 8 x 8."""
    run(generator_files["ours"], tmp_path / "plain", "--n_row", "2", "--n_col", "3",
        "--n_mixing", "1", "--size", "8", "--zoom", "1")
    run(generator_files["ours"], tmp_path / "auto", "--n_row", "2", "--n_col", "3",
        "--n_mixing", "1", "--size", "8")
    run(generator_files["ours"], tmp_path / "two", "--n_row", "2", "--n_col", "3",
        "--n_mixing", "1", "--size", "8", "--zoom", "2")
    for name in ("sample.png", "sample_mixing_0.png"):
        plain = np.asarray(Image.open(tmp_path / "plain" / name))
        for folder, zoom in (("auto", 8), ("two", 2)):
            enlarged = np.asarray(Image.open(tmp_path / folder / name))
            assert np.array_equal(enlarged, plain.repeat(zoom, 0).repeat(zoom, 1))
    with pytest.raises(UsageError, match="--zoom -1: must be 0"):
        run(generator_files["ours"], tmp_path, "--zoom", "-1")


def test_says_what_it_wrote_and_what_it_replaced(generator_files, tmp_path, capsys):
    written = run(generator_files["ours"], tmp_path, "--n_row", "1", "--n_col", "1", "--size", "8")
    assert len(written) == 1 + 3  # three mixing grids by default, as the README demo writes
    said = capsys.readouterr().out
    assert f"into {tmp_path}/" in said and "sample_mixing_0.png .. sample_mixing_2.png" in said
    assert "replaced" not in said
    run(generator_files["ours"], tmp_path, "--n_row", "1", "--n_col", "1", "--size", "8",
        "--n_mixing", "1")
    assert "2 of these files replaced ones from an earlier run" in capsys.readouterr().out


def test_default_size_is_the_trained_one(generator_files, tmp_path):
    run(generator_files["ours"], tmp_path, "--n_row", "1", "--n_col", "1", "--n_mixing", "0",
        "--zoom", "1")
    assert Image.open(tmp_path / "sample.png").size == (16 + 4, 16 + 4)


def test_same_seed_same_images(generator_files, tmp_path):
    for out in ("a", "b", "c"):
        seed = "2" if out == "c" else "1"
        run(generator_files["ours"], tmp_path / out, "--n_mixing", "1", "--seed", seed,
            "--size", "8")
    same = [open(tmp_path / o / "sample_mixing_0.png", "rb").read() for o in ("a", "b", "c")]
    assert same[0] == same[1] and same[0] != same[2]


def test_truncation_zero_leaves_only_noise(generator_files):
    g, checkpoint = load_generator(generator_files["ours"])
    mean = rendering.mean_style(g, checkpoint, np.random.RandomState(0))
    assert np.allclose(mean.numpy(), 0.5)  # the tracked w average, not a fresh estimate
    render = rendering.Renderer(g, 2, 1.0, mean, 0.0, None, batch=3)
    rng = np.random.RandomState(0)
    z = rng.randn(5, NARROW["code_dim"]).astype(np.float32)
    one_noise = [np.repeat(n, 5, 0) for n in rendering.make_noise(rng, 1, 2)]
    images = render(z, one_noise)
    assert np.abs(images - images[:1]).max() < 1e-5
    varied = render(z, rendering.make_noise(rng, 5, 2))
    assert np.abs(varied - varied[:1]).max() > 1e-3


def test_mixing_grid_cells_are_the_images_they_claim(generator_files):
    g, checkpoint = load_generator(generator_files["ours"])
    render = rendering.Renderer(g, 2, 1.0, None, 1.0, None, batch=4)
    code_dim, size = NARROW["code_dim"], 16
    grid = rendering.style_mixing_grid(render, np.random.RandomState(3), code_dim,
                                      n_source=3, n_target=2, mixing_range=(0, 8))
    cells = np.asarray(grid).astype(int)
    cell = lambda row, col: cells[2 + row * (size + 2):2 + row * (size + 2) + size,
                                  2 + col * (size + 2):2 + col * (size + 2) + size]
    # draw the grid's inputs again in the order style_mixing_grid draws them
    rng = np.random.RandomState(3)
    source, target = rng.randn(3, code_dim), rng.randn(2, code_dim)
    source_noise, target_noise = rendering.make_noise(rng, 3, 2), rendering.make_noise(rng, 2, 2)
    as_cells = lambda z, noise: to_uint8_images(render(z.astype(np.float32), noise)).astype(int)
    sources, targets = as_cells(source, source_noise), as_cells(target, target_noise)
    for j in range(3):
        assert np.abs(cell(0, j + 1) - sources[j]).max() <= 1
    for i in range(2):
        assert np.abs(cell(i + 1, 0) - targets[i]).max() <= 1
        row_noise = [n[i:i + 1] for n in target_noise]
        for j in range(3):  # every block mixed: the source's styles on the row's noise
            expected = as_cells(source[j:j + 1], row_noise)[0]
            assert np.abs(cell(i + 1, j + 1) - expected).max() <= 1
            assert np.abs(cell(i + 1, j + 1) - sources[j]).max() > 1  # the noise differs


@pytest.mark.parametrize("kind", ["stylegan_jittor", "rosinality"])
def test_foreign_checkpoints_generate_at_128(generator_files, tmp_path, kind):
    run(generator_files[kind], tmp_path, "--n_row", "1", "--n_col", "2", "--n_mixing", "0")
    assert Image.open(tmp_path / "sample.png").size == (2 * 130 + 2, 130 + 2)
    g, checkpoint = load_generator(generator_files[kind])
    assert not checkpoint["has_w_avg"]
    mean = rendering.mean_style(g, checkpoint, np.random.RandomState(0))
    assert mean.shape == (1, NARROW["code_dim"]) and np.abs(mean.numpy() - 0.5).max() > 0.01


def test_interpolation_gif_has_n_frames(generator_files, tmp_path):
    for space in ("z", "w"):
        out = tmp_path / space
        run(generator_files["ours"], out, "--n_mixing", "0", "--interpolate", "7",
            "--space", space, "--size", "8")
        gif = Image.open(out / "interpolation.gif")
        assert gif.n_frames == 7 and gif.size == (8, 8)
        assert len(os.listdir(out / "interpolation")) == 7


def test_slerp_endpoints_and_norm():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    assert np.allclose(rendering.slerp(a, b, 0), a) and np.allclose(rendering.slerp(a, b, 1), b)
    # halfway along a right angle: (sin(pi/4) a + sin(pi/4) b) / sin(pi/2)
    assert np.allclose(rendering.slerp(a, b, 0.5), np.sin(np.pi / 4) * (a + b))


def test_bad_inputs_are_one_line_errors(generator_files, tmp_path):
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"garbage")
    save_checkpoint({"weights": np.zeros(3)}, str(tmp_path / "other.model"))
    cases = [(str(tmp_path / "missing.model"), [], "no such checkpoint file"),
             (str(junk), [], "junk.model: not a checkpoint file"),
             (str(tmp_path / "other.model"), [], "not a StyleGAN generator checkpoint"),
             (generator_files["ours"], ["--size", "32"], "trained up to 16 px"),
             (generator_files["ours"], ["--size", "12"], "must be a power of two")]
    for ckpt, extra, message in cases:
        with pytest.raises(UsageError, match=message):
            run(ckpt, tmp_path / "out", *extra)


def test_default_mixing_range_is_the_coarse_blocks_for_the_model_size(generator_files, tmp_path,
                                                                      capsys):
    """rosinality's 4 and 8 px from 32 px up; the 4 px block alone in 8 and 16 px models."""
    assert rendering.coarse_blocks(3) == (0, 1) and rendering.coarse_blocks(8) == (0, 1)
    assert rendering.coarse_blocks(2) == (0, 0) and rendering.coarse_blocks(1) == (0, 0)
    run(generator_files["ours"], tmp_path / "a", "--n_row", "2", "--n_col", "2", "--n_mixing", "1")
    assert "blocks 0-0 from the top row" in capsys.readouterr().out
    run(generator_files["ours"], tmp_path / "b", "--n_row", "2", "--n_col", "2", "--n_mixing", "1",
        "--mixing_range", "0", "0")
    default = np.asarray(Image.open(tmp_path / "a" / "sample_mixing_0.png"))
    assert (default == np.asarray(Image.open(tmp_path / "b" / "sample_mixing_0.png"))).all()
    run(generator_files["ours"], tmp_path / "c", "--n_row", "2", "--n_col", "2", "--n_mixing", "1",
        "--mixing_range", "0", "1")
    assert "blocks 0-1 from the top row" in capsys.readouterr().out
    assert not (default == np.asarray(Image.open(tmp_path / "c" / "sample_mixing_0.png"))).all()
