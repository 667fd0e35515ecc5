"""Warnings when training goes wrong, and FID during training."""
import json
import shutil

import numpy as np

import convolution

import train
from conftest import NARROW
from dataset import MultiResolutionDataset
from evaluation.fid import compute_fid
from model import StyledGenerator
from rendering import Renderer
from runtime import jt
from training.monitor import COLLAPSE_RATIO, TrainingMonitor, real_images, variety
from training.samples import fixed_sample_inputs


def test_variety_is_the_mean_pairwise_rms_difference():
    a, b = np.zeros((1, 1, 2, 2)), np.full((1, 1, 2, 2), 0.5)
    assert variety(np.concatenate([a, a, a])) == 0
    assert abs(variety(np.concatenate([a, b])) - 0.5) < 1e-12
    assert abs(variety(np.concatenate([a, b, a])) - 1 / 3) < 1e-12  # pairs: 0.5, 0, 0.5


def samples(generator, step=1):
    z, noise = fixed_sample_inputs(NARROW["code_dim"], step, 0)
    return Renderer(generator, step, 1.0, None, 1, None, 8)(z, noise)


def test_collapse_warns_once_for_a_collapsed_generator_and_not_for_a_healthy_one(demo_data):
    dataset = MultiResolutionDataset(demo_data, 8, flip=False)
    real = variety(real_images(dataset, 8))
    monitor = TrainingMonitor("wgan-gp", lambda resolution: real)
    healthy = StyledGenerator(**NARROW)
    assert monitor.check_samples(samples(healthy), 8) == []
    assert monitor.check_samples(real_images(dataset, 8)[:32], 8) == []  # the data itself
    collapsed = StyledGenerator(**NARROW)
    for name, var in collapsed.style.named_parameters():  # every z maps to one w
        if name.endswith("weight_orig"):
            var.update(jt.zeros(var.shape))
    images = samples(collapsed)
    assert variety(images) < COLLAPSE_RATIO * real
    [(kind, message)] = monitor.check_samples(images, 8)
    assert kind == "collapse" and "mode collapse at 8 px" in message and "--augment" in message
    assert monitor.check_samples(images, 8) == []  # once per resolution
    assert [k for k, _ in monitor.check_samples(images, 16)] == ["collapse"]


def test_overfitting_and_divergence_warnings():
    monitor = TrainingMonitor("r1", lambda resolution: 1.0)
    for _ in range(25):
        assert monitor.check_losses({"d_loss": 0.5, "g_loss": 1.0, "real_sign": 0.4}, 8) == []
    [(kind, message)] = monitor.check_losses({"d_loss": 0.5, "g_loss": 1.0, "real_sign": 0.95}, 8)
    assert kind == "overfitting" and "r_t = 0.95" in message
    [(kind, message)] = monitor.check_losses({"d_loss": 80.0, "g_loss": 1.0, "real_sign": 0.4}, 8)
    assert kind == "divergence" and "d_loss 80" in message and "lower --lr" in message
    wgan = TrainingMonitor("wgan-gp", lambda resolution: 1.0)
    assert wgan.check_losses({"d_loss": 0.5, "g_loss": 1.0, "real_sign": 1.0}, 8) == []


def test_fid_during_training_equals_metrics_fid_of_the_same_checkpoint(demo_data, tmp_path,
                                                                       capsys):
    data = str(tmp_path / "demo")
    shutil.copytree(demo_data, data)  # the real statistics are cached beside the data
    state = train.main([data, "--init_size", "8", "--max_size", "8", "--width", "16",
                        "--code_dim", "16", "--n_mlp", "2", "--batch", "4", "--workers", "0",
                        "--iters", "4", "--fid_every", "4", "--fid_samples", "12",
                        "--save_every", "4", "--sample_every", "100",
                        "--checkpoint_dir", str(tmp_path / "checkpoint"),
                        "--sample_dir", str(tmp_path / "sample")])
    with open(tmp_path / "checkpoint" / "log.jsonl") as log:
        records = [json.loads(line) for line in log if '"fid"' in line]
    assert [(r["iteration"], r["size"], r["fid_samples"]) for r in records] == [(4, 8, 12)]
    assert "FID " in capsys.readouterr().err
    # training chose bfloat16 convolutions where the CPU has AMX; metrics.py runs float32
    convolution.set_precision("bfloat16" if convolution.bf16_available() else "float32")
    value, size, real_count = compute_fid(str(tmp_path / "checkpoint" / "000004.model"), data,
                                          n=12, seed=state.args.seed)
    assert (size, real_count) == (8, 12)
    assert abs(value - records[0]["fid"]) < 1e-6 * value


def test_the_plot_gains_an_fid_panel_when_the_log_has_fid(tmp_path):
    from PIL import Image

    from training.log import TrainingCurves
    from training.plot import draw_training_plot

    curves = TrainingCurves()
    for i in range(10):
        curves.add({"iteration": i, "size": 8, "d_loss": 0.5, "g_loss": 1.0})
    draw_training_plot(curves, str(tmp_path / "plain.png"))
    curves.add({"iteration": 10, "size": 8, "fid": 42.0})
    draw_training_plot(curves, str(tmp_path / "fid.png"))
    assert Image.open(tmp_path / "plain.png").size == (900, 600)
    assert Image.open(tmp_path / "fid.png").size == (900, 800)
    curves.add({"iteration": 11, "size": 8, "augment_p": 0.1})  # --augment ada's p
    draw_training_plot(curves, str(tmp_path / "ada.png"))
    assert Image.open(tmp_path / "ada.png").size == (900, 1000)
