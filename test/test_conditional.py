"""Class-conditional StyleGAN (--cond): G embeds the label with z as NVIDIA's G_mapping, D
scores every class and takes the label's as NVIDIA's D_basic; training draws the fakes'
classes as the data has them, resumes exactly, and generate.py draws any class."""
import os
import subprocess
import sys

import numpy as np
import pytest

import generate
import train
from cli import UsageError
from conftest import NARROW, ROOT, randn
from formats.checkpoints import load_generator, read_checkpoint
from model import Discriminator, StyledGenerator, one_hot
from runtime import jt
from training.options import default_training_args
from training.state import TrainingState
from training.steps import fake_labels

RUN = ["--init_size", "8", "--max_size", "8", "--width", "16", "--code_dim", "16", "--n_mlp",
       "2", "--batch", "4", "--workers", "0", "--device", "cpu", "--log_every", "1",
       "--sample_every", "100", "--no_flip"]


def test_mapping_joins_z_with_the_label_embedding_before_the_pixel_norm():
    g = StyledGenerator(**NARROW, n_classes=3)
    z = randn(4, 16, seed=1)
    labels = np.array([2, 0, 1, 2])
    embedding = g.label_embed.weight.numpy()
    joined = np.concatenate([z.numpy(), embedding[labels]], 1)
    assert np.abs(g.mapping(z, labels).numpy() - g.style(jt.array(joined)).numpy()).max() < 1e-6
    first = g.style[1].linear.weight_orig
    assert first.shape == (16, 32)  # the first dense layer reads z and the embedding
    # the class changes w; a sample of another class is another image
    assert np.abs(g.mapping(z, [0] * 4).numpy() - g.mapping(z, [1] * 4).numpy()).min() > 0
    with pytest.raises(ValueError, match="needs labels"):
        g.mapping(z)


def test_discriminator_scores_each_class_and_takes_the_label_s():
    d = Discriminator(width=16, n_classes=3)
    images = randn(4, 3, 8, 8, seed=2)
    labels = np.array([1, 1, 0, 2])
    scores = d(images, step=1, labels=labels).numpy()
    every = d.linear  # the same features through the 3-output layer
    assert every.linear.weight_orig.shape == (3, 16)
    picked = [d(images, step=1, labels=[k] * 4).numpy()[:, 0] for k in range(3)]
    for k in range(3):
        assert np.allclose(scores[labels == k, 0], picked[k][labels == k], atol=1e-6)
    assert np.abs(picked[0] - picked[1]).min() > 1e-4  # the class decides the score
    assert scores.shape == (4, 1)
    assert one_hot(jt.array(np.array([2, 0])), 3).numpy().tolist() == [[0, 0, 1], [1, 0, 0]]


def test_a_conditional_step_s_gradients_match_finite_differences():
    """G's loss through D, as a function of the label embedding and of D's per-class output
    weights: jt.grad against central differences; classes not in the batch get none."""
    jt.set_seed(0)
    g, d = StyledGenerator(**NARROW, n_classes=3), Discriminator(width=16, n_classes=3)
    z = randn(3, 16, seed=4)
    noise = [randn(3, 1, 4, 4, seed=5), randn(3, 1, 8, 8, seed=6)]
    labels = np.array([0, 2, 2])
    embedding, output = g.label_embed.weight, d.linear.linear.weight_orig

    def loss():
        return -d(g(z, noise=noise, step=1, labels=labels), step=1, labels=labels).sum()

    grads = [g_.numpy() for g_ in jt.grad(loss(), [embedding, output])]
    assert np.abs(grads[0][1]).max() == 0 and np.abs(grads[1][1]).max() == 0  # class 1 unused
    for var, grad in zip((embedding, output), grads):
        original = var.numpy().copy()
        for index in [(0, 3), (2, 7), (2, 0)]:
            values = []
            for sign in (1, -1):
                moved = original.copy()
                moved[index] += sign * 1e-3  # the loss bends within 1e-2 (instance norms)
                var.update(jt.array(moved))
                values.append(float(loss().numpy()[0]))
            var.update(jt.array(original))
            numeric = (values[0] - values[1]) / 2e-3
            assert abs(grad[index] - numeric) < 2e-2 * max(1.0, abs(numeric)), (index, numeric)


def test_fakes_take_the_classes_as_often_as_the_data_has_them():
    args = default_training_args(**NARROW, cond=True)
    args.n_classes, args.class_counts, args.class_names = 3, [0, 300, 100], ["a", "b", "c"]
    state = TrainingState(args)
    np.random.seed(0)
    drawn = np.concatenate([fake_labels(state, 100).numpy() for _ in range(40)])
    assert (drawn != 0).all()
    assert abs((drawn == 1).mean() - 0.75) < 0.03
    unconditional = TrainingState(default_training_args(**NARROW))
    assert fake_labels(unconditional, 8) is None


def folders(out):
    return ["--checkpoint_dir", str(out / "checkpoint"), "--sample_dir", str(out / "sample")]


def test_conditional_training_resumes_bit_for_bit_and_records_its_classes(demo_data, tmp_path):
    straight = train.main([demo_data, "--cond", *RUN, *folders(tmp_path / "a"), "--iters", "8",
                           "--save_every", "100"])
    train.main([demo_data, "--cond", *RUN, *folders(tmp_path / "b"), "--iters", "5",
                "--save_every", "100"])
    resumed = train.main([demo_data, *folders(tmp_path / "b"), "--iters", "8", "--save_every",
                          "100", "--ckpt", str(tmp_path / "b" / "checkpoint" / "last.model")])
    assert resumed.args.n_classes == 10 and resumed.generator.n_classes == 10
    for model in ("generator", "g_running", "discriminator"):
        for a, b in zip(getattr(straight, model).state_dict().values(),
                        getattr(resumed, model).state_dict().values()):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    meta = read_checkpoint(str(tmp_path / "a" / "checkpoint" / "last.model"))["meta"]
    assert meta["class_names"] == [str(k) for k in range(10)] and sum(meta["class_counts"]) == 64
    generator, _ = load_generator(str(tmp_path / "a" / "checkpoint" / "last.model"))
    assert generator.n_classes == 10


def test_cond_needs_labels_and_classes_must_match(demo_data, tmp_path):
    import shutil

    unlabelled = tmp_path / "unlabelled"
    shutil.copytree(demo_data, unlabelled)
    for size in (8, 16, 32):
        os.remove(unlabelled / str(size) / "dataset.json")
    with pytest.raises(UsageError, match="no class labels for a conditional model"):
        train.main([str(unlabelled), "--cond", *RUN, *folders(tmp_path / "x"), "--iters", "1"])
    train.main([demo_data, *RUN, *folders(tmp_path / "plain"), "--iters", "1"])
    with pytest.raises(UsageError, match="is an unconditional model"):
        train.main([demo_data, "--cond", *RUN, *folders(tmp_path / "y"), "--iters", "2",
                    "--from", str(tmp_path / "plain" / "checkpoint" / "last.model")])


@pytest.fixture(scope="module")
def conditional_checkpoint(demo_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("conditional")
    train.main([demo_data, "--cond", *RUN, *folders(out), "--iters", "2", "--save_every", "2"])
    return str(out / "checkpoint" / "000002.model")


def test_generate_draws_a_class_all_classes_and_one_png_per_seed(conditional_checkpoint,
                                                                  tmp_path):
    written = generate.main([conditional_checkpoint, "--class", "all", "--n_mixing", "0",
                             "--out", str(tmp_path / "all"), "--zoom", "1"])
    from PIL import Image
    grid = Image.open(written[0])
    assert grid.size[1] == 10 * (8 + 2) + 2  # one row per class
    seeds = generate.main([conditional_checkpoint, "--class", "7", "--seeds", "3-5,9",
                           "--out", str(tmp_path / "seeds")])
    assert sorted(os.listdir(tmp_path / "seeds")) == ["seed0003.png", "seed0004.png",
                                                      "seed0005.png", "seed0009.png"]
    again = generate.main([conditional_checkpoint, "--class", "7", "--seeds", "9",
                           "--out", str(tmp_path / "again")])
    same = [np.asarray(Image.open(p)) for p in (seeds[-1], again[0])]
    assert np.array_equal(*same)  # an image depends on its seed alone
    other = generate.main([conditional_checkpoint, "--class", "2", "--seeds", "9",
                           "--out", str(tmp_path / "other")])
    assert not np.array_equal(same[0], np.asarray(Image.open(other[0])))


@pytest.mark.parametrize("argv, says", [
    (["--class", "10"], "--class 10: the model has classes 0 to 9"),
    (["--class", "cat"], "--class cat: the model has classes 0 to 9"),
    ([], "a conditional model draws a class: give --class"),
    (["--class", "all", "--seeds", "1-2"], "--seeds draws one class"),
    (["--class", "3", "--seeds", "x"], "--seeds x: give seeds as 0-99"),
])
def test_bad_class_or_seeds_is_a_one_line_error(conditional_checkpoint, tmp_path, argv, says):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "generate.py"),
                             conditional_checkpoint, "--out", str(tmp_path), *argv],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and says in lines[0], result.stderr[-500:]


def test_class_on_an_unconditional_model_is_refused(demo_data, tmp_path):
    train.main([demo_data, *RUN, *folders(tmp_path), "--iters", "1", "--save_every", "1"])
    with pytest.raises(UsageError, match="this model is unconditional"):
        generate.main([str(tmp_path / "checkpoint" / "000001.model"), "--class", "1",
                       "--out", str(tmp_path / "out")])


def test_fid_draws_the_data_s_classes_and_reports_each_class(conditional_checkpoint, demo_data,
                                                              tmp_path, capsys):
    import shutil

    import metrics
    from evaluation.fid import GeneratorFid, real_batches
    from dataset import MultiResolutionDataset

    data = str(tmp_path / "demo")
    shutil.copytree(demo_data, data)  # the FID caches are written beside the data
    dataset = MultiResolutionDataset(data, 8, flip=False)
    labels = np.asarray(dataset.source.labels(8)[0])
    sevens = np.flatnonzero(labels == 7)
    batch = next(real_batches(dataset, 8, len(sevens), 64, among=sevens))
    expected = np.stack([np.asarray(dataset.source.load(8, int(i))) for i in sevens])
    assert sorted(map(bytes, batch.transpose(0, 2, 3, 1))) == sorted(map(bytes, expected))
    generator, _ = load_generator(conditional_checkpoint)
    measure = GeneratorFid.__new__(GeneratorFid)  # the class draw alone, without Inception
    measure.data_root, measure.n, measure.datasets = data, 4000, {}
    drawn = measure.generated_classes(generator, 8, np.random.RandomState(0), None)
    share = np.bincount(drawn, minlength=10) / 4000
    assert np.abs(share - np.bincount(labels, minlength=10) / len(labels)).max() < 0.03
    assert (measure.generated_classes(generator, 8, None, 3) == 3).all()
    metrics.main(["fid", conditional_checkpoint, data, "--n", "4", "--per_class", "--batch", "4"])
    printed = capsys.readouterr().out
    assert all(f"class {k}: FID" in printed for k in range(10))
    assert os.path.exists(os.path.join(data, "fid_stats_8px_4_shuffled_plain_class7.npz"))


@pytest.mark.parametrize("argv, says", [
    (["projector.py", "{ckpt}", "x.png"], "projector.py works with unconditional models only"),
    (["metrics.py", "ppl", "{ckpt}", "--n", "2"], "metrics.py ppl works with unconditional"),
    (["edit.py", "apply", "{ckpt}", "a.npz", "--direction", "b.npz"], "edit.py works with"),
    (["checkpoint.py", "export", "{ckpt}", "{out}/g.onnx"], "the ONNX export works with"),
    (["checkpoint.py", "convert", "{ckpt}", "{out}/r.model", "--to", "rosinality"],
     "n_classes 10 (rosinality's: 0)"),
    (["digits.py", "{ckpt}", "--mixing"], "is conditional; its mixing grids are not measured"),
])
def test_tools_that_draw_no_classes_refuse_a_conditional_model_in_one_line(
        conditional_checkpoint, tmp_path, argv, says):
    argv = [a.format(ckpt=conditional_checkpoint, out=tmp_path) for a in argv]
    for name in ("x.png", "a.npz", "b.npz"):
        (tmp_path / name).write_bytes(b"")
    result = subprocess.run([sys.executable, os.path.join(ROOT, argv[0]), *argv[1:]],
                            capture_output=True, text=True, cwd=tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert result.returncode != 0 and len(lines) == 1 and says in lines[0], result.stderr[-600:]
