import json
import os
from collections import OrderedDict

import numpy as np
import pytest

import checkpoint
from formats.checkpoints import (generator_state, infer_from_rgb_activate, infer_generator_config,
                        load_state, read_checkpoint, save_checkpoint)
from conftest import NARROW, data_path, max_diff, randn, rerun_tolerance
from model import Discriminator, StyledGenerator
from cli import UsageError
from runtime import jt
from formats.pt_files import read_pt_file
from pt_writer import write_pt_legacy, write_pt_zip
from formats import checkpoints


@pytest.mark.parametrize("name", ["torch_zip_format.model", "torch_legacy_format.model"])
def test_reads_real_pytorch_files_without_torch(name):
    """Files written by real PyTorch 2.13; jt.load gets the strided tensor wrong on the
    zip file and fails on the legacy one."""
    expected = json.load(open(data_path("torch_format_expected.json")))
    loaded = read_pt_file(data_path(name))
    assert set(loaded) == {"generator", "g_running", "g_optimizer"}
    for part, tensors in expected.items():
        for key, values in tensors.items():
            assert np.array_equal(loaded[part][key].astype(np.float64), np.array(values)), key
    assert loaded["g_running"]["half"].dtype == np.float16
    assert loaded["g_running"]["count"].dtype == np.int64


def rosinality_style(state, part):
    """A state_dict as rosinality saves it: blur kernels stored as buffers too."""
    shapes = json.load(open(data_path("rosinality_state_dict_keys.json")))[part]
    kernel = (np.outer([1, 2, 1], [1, 2, 1]) / 16).astype(np.float32)
    out = OrderedDict((k, v) for k, v in state.items() if k != "w_avg")
    for key, shape in shapes.items():
        if key.endswith(".weight_flip"):
            out[key[:-len("_flip")]] = out[key] = np.broadcast_to(kernel, shape).copy()
    return out


def stylegan_jittor_style(state):
    """A state_dict as StyleGAN-jittor saves it after training: computed `weight` too."""
    out = dict(state)
    for key, value in state.items():
        if key.endswith("weight_orig"):
            out[key[:-len("_orig")]] = value * np.float32(np.sqrt(2 / (value.size // value.shape[0])))
    out.pop("w_avg")
    return out


@pytest.fixture(scope="module")
def full_models():
    g, d = StyledGenerator(), Discriminator(from_rgb_activate=True)
    return g, d, checkpoints.to_numpy_tree(g.state_dict()), checkpoints.to_numpy_tree(d.state_dict())


def assert_same_generator(state, reference_g, path="file", **config):
    g = StyledGenerator(**config)
    load_state(g, state, "generator", path)
    z = randn(2, config.get("code_dim", 512))
    noise = reference_g.make_noise(2, 1)
    assert max_diff(g(z, noise=noise, step=1),
                    reference_g(z, noise=noise, step=1)) <= rerun_tolerance()


def test_rosinality_train_step_files_load(tmp_path, full_models):
    g, d, g_state, d_state = full_models
    rosinality_g = rosinality_style(g_state, "generator")
    rosinality_d = rosinality_style(d_state, "discriminator")
    assert sum(k.endswith("weight_flip") for k in rosinality_g) == 8
    assert sum(k.endswith("weight_flip") for k in rosinality_d) == 8
    content = {"generator": rosinality_g, "discriminator": rosinality_d, "g_running": rosinality_g,
               "g_optimizer": {"state": {}, "param_groups": [{"lr": 0.001, "betas": (0.0, 0.99)}]}}
    for writer in (write_pt_zip, write_pt_legacy):
        path = str(tmp_path / f"train_step-3.{writer.__name__}.model")
        writer(content, path)
        loaded = read_checkpoint(path)
        assert_same_generator(generator_state(loaded, path), g, path)
        assert infer_from_rgb_activate(loaded["discriminator"])
        other_d = Discriminator(from_rgb_activate=True)
        load_state(other_d, loaded["discriminator"], "discriminator", path)
        x = randn(2, 3, 8, 8)
        assert max_diff(other_d(x, step=1), d(x, step=1)) <= rerun_tolerance()


def test_stylegan_jittor_files_load(tmp_path, full_models):
    g, d, g_state, d_state = full_models
    ema_state = {k: jt.array(v) for k, v in stylegan_jittor_style(g_state).items()}
    reference = json.load(open(data_path("stylegan_jittor_state_dict_keys.json")))
    # every key their file can hold is one our model owns or derives
    assert set(reference["generator_after_one_forward"]) <= set(ema_state)
    bare = str(tmp_path / "FFHQ_80000.model")
    jt.save(ema_state, bare)  # their writer
    loaded = read_checkpoint(bare)
    assert_same_generator(generator_state(loaded, bare), g, bare)
    train_step = str(tmp_path / "train_step-2.model")
    jt.save({"generator": ema_state, "discriminator": d_state, "g_running": ema_state}, train_step)
    assert_same_generator(generator_state(read_checkpoint(train_step), train_step), g, train_step)


def test_our_checkpoint_round_trip_and_config_inference(tmp_path):
    g = StyledGenerator(**NARROW)
    g.update_w_avg(jt.ones(NARROW["code_dim"]), beta=0.5)
    path = str(tmp_path / "ours.model")
    save_checkpoint({"g_running": g.state_dict(), "progress": {"used_samples": 123}}, path)
    loaded = jt.load(path)  # the jt.save container, so Jittor's own loader reads it too
    assert loaded["progress"]["used_samples"] == 123
    state = generator_state(read_checkpoint(path), path)
    config = infer_generator_config(state)
    assert config == {**NARROW, "n_classes": 0}
    assert_same_generator(state, g, path, **config)
    other = StyledGenerator(**NARROW)
    load_state(other, state, "generator", path)
    assert np.allclose(other.w_avg.numpy(), 0.5)


def test_mismatched_checkpoint_names_the_keys(tmp_path):
    state = checkpoints.to_numpy_tree(StyledGenerator(**NARROW).state_dict())
    with pytest.raises(UsageError, match=r"adain1.style.linear.bias has shape \(32,\) in the file but \(64,\) in the model.*more shapes differ"):
        load_state(StyledGenerator(code_dim=16, n_mlp=2, width=32), state, "generator", "x.model")
    del state["style.1.linear.bias"]
    state["extra.thing"] = np.zeros(3)
    with pytest.raises(UsageError, match=r"missing style.1.linear.bias.*unexpected extra.thing"):
        load_state(StyledGenerator(**NARROW), state, "generator", "x.model")


def test_bad_files_give_one_line_errors(tmp_path):
    with pytest.raises(UsageError, match="no such checkpoint file"):
        read_checkpoint(str(tmp_path / "missing.model"))
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"\x00\x01 not a checkpoint at all")
    with pytest.raises(UsageError, match="junk.model: not a checkpoint file"):
        read_checkpoint(str(junk))
    broken_zip = tmp_path / "broken.model"
    broken_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(UsageError, match="broken.model: not a readable PyTorch file"):
        read_checkpoint(str(broken_zip))
    good = tmp_path / "good.model"
    save_checkpoint({"g_running": {"style.1.linear.bias": np.zeros(3)}}, str(good))
    truncated = tmp_path / "truncated.model"
    truncated.write_bytes(good.read_bytes()[:-40] + good.read_bytes()[-8:])
    with pytest.raises(UsageError, match="corrupt or truncated"):
        read_checkpoint(str(truncated))
    not_generator = tmp_path / "other.model"
    save_checkpoint({"weights": [1, 2, 3]}, str(not_generator))
    with pytest.raises(UsageError, match="not a StyleGAN generator checkpoint"):
        generator_state(read_checkpoint(str(not_generator)), str(not_generator))


def test_crash_during_save_keeps_previous_file(tmp_path, monkeypatch):
    path = str(tmp_path / "last.model")
    save_checkpoint({"progress": 1}, path)

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(UsageError, match="last.model: cannot write the checkpoint \\(disk full\\)"):
        save_checkpoint({"progress": 2}, path)
    assert read_checkpoint(path)["progress"] == 1
    assert os.listdir(tmp_path) == ["last.model"]  # no temp file left behind
