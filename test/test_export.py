"""Taking a model out: rosinality's train_step file written without PyTorch (its key order,
blur buffers and Adam states), read back by our safe reader; shapes it cannot hold refused."""
import json
import os

import numpy as np
import pytest

import checkpoint
from cli import UsageError
from conftest import NARROW, data_path, randn
from formats.checkpoints import read_checkpoint, save_checkpoint
from formats.rosinality import rosinality_checkpoint
from runtime import jt
from training.optimizers import set_learning_rate
from training.options import default_training_args
from training.schedule import Plan
from training.state import TrainingState
from training.steps import training_step


@pytest.fixture(scope="module")
def trained_full_model(tmp_path_factory):
    """A full-size training state after a step at 8 px then one into the 16 px fade-in (so
    some parameters have taken fewer steps than others), saved as ours."""
    jt.set_seed(3)
    state = TrainingState(default_training_args(batch=2, precision="float32", max_size=16))
    for optimizer in (state.g_optimizer, state.d_optimizer):
        set_learning_rate(optimizer, 0.001)
    for index, plan in enumerate([Plan(1, 1.0, 2, 0.001), Plan(2, 0.5, 2, 0.001)]):
        size = 4 * 2**plan.step
        training_step(state, randn(2, 3, size, size, seed=index).stop_grad(), plan)
    path = str(tmp_path_factory.mktemp("full") / "last.model")
    save_checkpoint(state.to_checkpoint(), path)
    return state, path


def test_rosinality_file_has_its_keys_shapes_and_adam_layout(trained_full_model, tmp_path):
    state, path = trained_full_model
    target = str(tmp_path / "train_step-2.model")
    checkpoint.main(["convert", path, target, "--to", "rosinality"])
    written = read_checkpoint(target)  # our safe reader: tensors, dicts, lists, plain values
    reference = json.load(open(data_path("rosinality_state_dict_keys.json")))
    assert set(written) == {"generator", "g_running", "discriminator", "g_optimizer",
                            "d_optimizer"}
    for part, name in (("generator", "generator"), ("generator", "g_running"),
                       ("discriminator", "discriminator")):
        assert list(written[name]) == list(reference[part])  # rosinality's order, buffers too
        assert all(tuple(np.shape(written[name][k])) == tuple(shape)
                   for k, shape in reference[part].items())
    blur = written["g_running"]["generator.progression.1.conv1.2.weight"]
    np.testing.assert_allclose(blur[0, 0], np.outer([1, 2, 1], [1, 2, 1]) / 16)
    groups = written["g_optimizer"]["param_groups"]
    assert [g["lr"] for g in groups] == [0.001, 0.001 * 0.01] and groups[1]["mult"] == 0.01
    assert tuple(groups[0]["betas"]) == (0.0, 0.99) and groups[1]["params"][0] == len(groups[0]["params"])
    entries = written["g_optimizer"]["state"].values()
    assert all(np.shape(entry["step"]) == () for entry in entries)  # PyTorch's 0-d step
    steps = {int(entry["step"]) for entry in entries}
    assert steps == {1, 2}  # the 16 px block joined at the second step; unused ones have none


def test_ours_to_rosinality_and_back_is_bit_for_bit(trained_full_model, tmp_path):
    state, path = trained_full_model
    target = str(tmp_path / "train_step-2.model")
    checkpoint.convert(path, target, "rosinality")
    back = TrainingState(state.args)
    message = back.restore(read_checkpoint(target), target)
    assert "optimizers' state" in message
    for name in ("generator", "g_running", "discriminator"):
        ours, theirs = getattr(state, name).state_dict(), getattr(back, name).state_dict()
        for key in ours:
            if key != "w_avg":  # rosinality's format has no tracked w average
                np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy(), key)
    for name in ("g_optimizer", "d_optimizer"):
        for a, b in zip(getattr(state, name).param_groups, getattr(back, name).param_groups):
            assert a["lr"] == b["lr"] and a["steps"] == b["steps"]
            for key in ("m", "values"):
                for x, y in zip(a[key], b[key]):
                    np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_shapes_rosinality_cannot_hold_are_refused(tmp_path):
    from model import StyledGenerator
    from formats.checkpoints import to_numpy_tree

    narrow = str(tmp_path / "narrow.model")
    save_checkpoint(to_numpy_tree(StyledGenerator(**NARROW).state_dict()), narrow)
    with pytest.raises(UsageError, match="one shape; this one differs in width 16"):
        checkpoint.convert(narrow, str(tmp_path / "out.pt"), "rosinality")
    with pytest.raises(UsageError, match="cannot hold NVIDIA's layout.*ONNX"):
        rosinality_checkpoint(read_checkpoint(data_path("official_small_32.pkl")), "official.pkl")
    assert not os.path.exists(tmp_path / "out.pt")


def onnx_images(model, feeds):
    import onnxruntime

    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(["image"], feeds)[0]


def relative_difference(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("input_kind, step, alpha", [("z", 1, 1.0), ("w", 3, 0.4),
                                                     ("w+", 5, 1.0)])
def test_onnx_generator_draws_what_ours_draws(input_kind, step, alpha):
    """8 px; 32 px while fading in; 128 px with the fused up-convolution; truncation with a
    cutoff; batches of 1 and 3 from one graph."""
    from conftest import trained_looking_generator
    from exporting import build_graph

    generator, _ = trained_looking_generator()
    rng = np.random.RandomState(step)
    maps = [rng.randn(1, 1, 4 * 2**b, 4 * 2**b).astype(np.float32) for b in range(step + 1)]
    mean = rng.randn(16).astype(np.float32)
    model = build_graph(generator, step, alpha, input_kind, mean, 0.7, 3, maps, "narrow")
    n_layers = 2 * (step + 1)
    for batch in (1, 3):
        z = rng.randn(batch, 16).astype(np.float32)
        with jt.no_grad():
            w = generator.style(jt.array(z))
            if input_kind == "w+":  # a different w per layer
                w_plus = np.stack([w.numpy() + 0.1 * layer for layer in range(n_layers)], 1)
                styles = [jt.array(w_plus[:, layer]) for layer in range(n_layers)]
            else:
                styles = [w] * n_layers
            styles = [jt.array(mean[None]) + 0.7 * (s - jt.array(mean[None])) if layer < 3 else s
                      for layer, s in enumerate(styles)]
            noise = [jt.array(np.repeat(m, batch, 0)) for m in maps]
            ours = generator.generator(styles, noise, step, alpha).numpy()
        feeds = {"z": z} if input_kind == "z" else (
            {"w": w.numpy()} if input_kind == "w" else {"w_plus": w_plus})
        theirs = onnx_images(model, feeds)
        assert theirs.shape == (batch, 3, 4 * 2**step, 4 * 2**step)
        assert relative_difference(theirs, ours) < 1e-4


def test_nvidias_pickle_exports_and_draws_nvidias_own_images(tmp_path, capsys):
    """The graph of NVIDIA's reference network (its noise maps, psi 0.7 cutoff 8) against the
    images NVIDIA's own code drew for the same latents."""
    import onnx

    path = data_path("official_small_32.pkl")
    target = str(tmp_path / "official.onnx")
    checkpoint.main(["export", path, target, "--truncation", "0.7", "--truncation_cutoff", "8"])
    assert "wrote" in capsys.readouterr().out and os.path.getsize(target) > 0
    reference = np.load(data_path("official_small_32_outputs.npz"))
    for batch in (1, 4):
        drawn = onnx_images(onnx.load(target), {"z": reference["z"][:batch]})
        assert relative_difference(drawn, reference["images_psi07_cut8"][:batch]) < 1e-4


def test_export_without_onnx_says_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(UsageError, match="requirements-export.txt"):
        checkpoint.main(["export", data_path("official_small_32.pkl"), str(tmp_path / "g.onnx")])
    assert not os.path.exists(tmp_path / "g.onnx")


def test_rosinality_files_export_to_onnx(tmp_path):
    """Another project's file (no recorded size: 128 px, as generate.py assumes) exports and
    draws what our generator draws from it with the same fixed noise."""
    import onnx

    from formats.checkpoints import load_generator, to_numpy_tree
    from model import StyledGenerator
    from pt_writer import write_pt_zip
    from rendering import make_noise

    jt.set_seed(4)
    state = to_numpy_tree(StyledGenerator(**NARROW).state_dict())
    state = {k: (np.ones_like(v) if ".noise" in k else v) for k, v in state.items() if k != "w_avg"}
    source = str(tmp_path / "train_step-6.model")
    write_pt_zip({"generator": state, "g_running": state}, source)
    target = str(tmp_path / "rosinality.onnx")
    checkpoint.main(["export", source, target, "--seed", "5"])
    generator, _ = load_generator(source)
    maps = make_noise(np.random.RandomState(5), 1, 5)
    z = np.random.RandomState(6).randn(2, 16).astype(np.float32)
    with jt.no_grad():
        ours = generator(jt.array(z), noise=[jt.array(np.repeat(m, 2, 0)) for m in maps],
                         step=5, alpha=1.0).numpy()
    assert relative_difference(onnx_images(onnx.load(target), {"z": z}), ours) < 1e-4


def test_files_without_optimizer_state_get_adams_that_took_no_step(trained_full_model, tmp_path):
    """Another project's G, EMA G and D (no Adam state): rosinality's train.py still finds
    both optimizers, numbered as its models list their parameters."""
    from formats.checkpoints import to_numpy_tree

    state, _ = trained_full_model
    weights = {name: to_numpy_tree(getattr(state, name).state_dict())
               for name in ("generator", "g_running", "discriminator")}
    written = rosinality_checkpoint(weights, "foreign.model")
    g_groups = written["g_optimizer"]["param_groups"]
    assert written["g_optimizer"]["state"] == {} and written["d_optimizer"]["state"] == {}
    assert [len(g["params"]) for g in g_groups] == [len(p["params"]) for p in
                                                     state.g_optimizer.param_groups]
    assert g_groups[1]["params"][0] == len(g_groups[0]["params"]) and g_groups[1]["mult"] == 0.01
    assert len(written["d_optimizer"]["param_groups"][0]["params"]) == \
        len(state.d_optimizer.param_groups[0]["params"])
    generator_only = rosinality_checkpoint({"g_running": weights["g_running"]}, "ema.model")
    assert set(generator_only) == {"generator", "g_running"}
