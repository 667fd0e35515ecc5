"""The official code's behaviours offered as train.py options beside rosinality's defaults:
Adam's reset at each fade-in's start and end, real images faded like the fakes, the EMA by
half-life, and what --help says of them."""
import argparse

import numpy as np
import pytest

from conftest import randn
from test_train import run_train
from training.ema import ema_decay
from training.options import default_training_args, training_parser
from training.schedule import Plan
from training.steps import faded_reals


def steps_of(optimizer, group):
    return set(optimizer.param_groups[group]["steps"])


def test_optimizers_reset_as_each_fade_in_starts_and_ends(demo_data, tmp_path):
    """--phase 40 at batch 4: 8 px for iterations 0-19, the 16 px fade-in 20-29, stable
    from 30. Reset after 19 and after 29, so by 32 the mapping network has taken 2 steps
    (32 without the reset) and 8 px's from_rgb, out of use since, none."""
    reset = run_train(demo_data, tmp_path / "reset", "--iters", "32",
                      "--reset_optimizers_on_grow")
    plain = run_train(demo_data, tmp_path / "plain", "--iters", "32")
    assert steps_of(reset.g_optimizer, 1) == {2} and steps_of(plain.g_optimizer, 1) == {32}
    d_params = reset.d_optimizer.param_groups[0]["params"]
    old_from_rgb = {id(p) for p in reset.discriminator.from_rgb[-2].parameters()}
    counts = [t for p, t in zip(d_params, reset.d_optimizer.param_groups[0]["steps"])
              if id(p) in old_from_rgb]
    assert counts and set(counts) == {0}
    plain_counts = dict(zip(map(id, plain.g_optimizer.param_groups[0]["params"]),
                            plain.g_optimizer.param_groups[0]["steps"]))
    new_to_rgb = plain.generator.generator.to_rgb[2].parameters()
    assert {plain_counts[id(p)] for p in new_to_rgb} == {12}  # from its first step, 20


def test_faded_reals_blend_their_2x2_average_by_alpha():
    real = randn(2, 3, 16, 16, seed=3)
    x = real.numpy()
    averaged = x.reshape(2, 3, 8, 2, 8, 2).mean((3, 5)).repeat(2, 2).repeat(2, 3)
    faded = faded_reals(real, Plan(2, 0.25, 2, 0.001)).numpy()
    np.testing.assert_allclose(faded, 0.25 * x + 0.75 * averaged, rtol=1e-5, atol=1e-6)
    assert faded_reals(real, Plan(2, 1.0, 2, 0.001)) is real


def test_ema_by_half_life_in_thousands_of_images():
    args = default_training_args(ema_kimg=10.0)
    assert ema_decay(args, 32) == pytest.approx(0.5 ** (32 / 10_000))
    assert ema_decay(args, 32) ** (10_000 / 32) == pytest.approx(0.5)
    assert ema_decay(default_training_args(), 32) == 0.999


def test_help_says_which_project_each_behaviour_follows():
    parser = training_parser()
    helps = {action.option_strings[0]: action.help or "" for action in parser._actions
             if action.option_strings}
    assert "default: True" not in parser.format_help().split("--no_mixing")[1].split("--")[0]
    assert parser.parse_args(["x"]).mixing and not parser.parse_args(["x", "--no_mixing"]).mixing
    for option in ("--mixing_crossover", "--ema_kimg", "--fade_reals",
                   "--reset_optimizers_on_grow"):
        assert "official" in helps[option], option
    assert "rosinality" in helps["--ema_decay"] and "both" not in helps["--ema_decay"]
    assert argparse.SUPPRESS not in parser.format_help()
