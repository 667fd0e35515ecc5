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
    """A full-size training state after three steps at 8 px then one into the 16 px fade-in
    (so some parameters have taken fewer steps than others), saved as ours."""
    jt.set_seed(3)
    state = TrainingState(default_training_args(batch=2, precision="float32", max_size=16))
    for optimizer in (state.g_optimizer, state.d_optimizer):
        set_learning_rate(optimizer, 0.001)
    for index, plan in enumerate([Plan(1, 1.0, 2, 0.001)] * 3 + [Plan(2, 0.5, 2, 0.001)]):
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
    assert steps == {1, 4}  # the 16 px block joined at the fourth step; unused ones have none


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
    with pytest.raises(UsageError, match="NVIDIA's layout.*ONNX"):
        rosinality_checkpoint(read_checkpoint(data_path("official_small_32.pkl")), "official.pkl")
    assert not os.path.exists(tmp_path / "out.pt")
