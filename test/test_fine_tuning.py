"""Fine-tuning: --from starts a new run from any checkpoint kind's weights, --freeze_d keeps
D's blocks nearest the image as they are, and --augment ada tunes its probability p from r_t
(saved and restored, so a resumed run stays bit-identical)."""
import os
import shutil

import numpy as np
import pytest

import train
from conftest import NARROW, data_path, randn
from formats.checkpoints import read_checkpoint, save_checkpoint, to_numpy_tree
from model import Discriminator, StyledGenerator
from pt_writer import write_pt_zip
from runtime import jt
from cli import UsageError
from training.adaptive import ADA_INTERVAL, adapt_probability
from training.options import default_training_args
from training.schedule import Plan
from training.state import TrainingState
from training.steps import real_sign, training_step

NARROW_ARGS = ["--batch", "4", "--workers", "0", "--device", "cpu", "--log_every", "1"]


def folders(out):
    return ["--checkpoint_dir", str(out / "checkpoint"), "--sample_dir", str(out / "sample")]


def narrow_files(tmp_path):
    """The same narrow G, EMA G and D as rosinality's and StyleGAN-jittor's files hold them."""
    jt.set_seed(5)
    g, ema = StyledGenerator(**NARROW), StyledGenerator(**NARROW)
    d = Discriminator(width=NARROW["width"])
    states = {"generator": to_numpy_tree(g.state_dict()), "g_running": to_numpy_tree(ema.state_dict()),
              "discriminator": to_numpy_tree(d.state_dict())}
    rosinality = str(tmp_path / "train_step-2.model")
    write_pt_zip({k: {n: v for n, v in s.items() if n != "w_avg"} for k, s in states.items()},
                 rosinality)
    stylegan_jittor = str(tmp_path / "stylegan_jittor.model")
    jt.save({k: {n: jt.array(v) for n, v in s.items() if n != "w_avg"}
             for k, s in states.items()}, stylegan_jittor)
    return states, {"rosinality": rosinality, "stylegan_jittor": stylegan_jittor}


def started_state(monkeypatch, argv):
    """train.main's state as the loop would receive it."""
    seen = {}
    monkeypatch.setattr(train, "train", lambda state, dataset: seen.setdefault("state", state))
    train.main(argv)
    return seen["state"]


def fresh_optimizers(state):
    for optimizer in (state.g_optimizer, state.d_optimizer):
        for group in optimizer.param_groups:
            assert set(group["steps"]) == {0}
            assert all(not v.numpy().any() for v in group["values"])


@pytest.mark.parametrize("kind", ["rosinality", "stylegan_jittor"])
def test_from_other_projects_files(demo_data, tmp_path, monkeypatch, kind):
    states, paths = narrow_files(tmp_path)
    with pytest.raises(UsageError, match="does not record the size.*--init_size"):
        train.main([demo_data, "--from", paths[kind], *NARROW_ARGS, *folders(tmp_path)])
    state = started_state(monkeypatch, [demo_data, "--from", paths[kind], "--init_size", "16",
                                        *NARROW_ARGS, *folders(tmp_path)])
    assert (state.args.init_size, state.args.max_size, state.iteration) == (16, 16, 0)
    assert (state.args.width, state.args.code_dim, state.args.n_mlp) == (16, 16, 2)
    for module, part in ((state.generator, "generator"), (state.g_running, "g_running"),
                         (state.discriminator, "discriminator")):
        for name, value in module.state_dict().items():
            if name in states[part] and name != "w_avg":
                np.testing.assert_array_equal(value.numpy(), states[part][name], err_msg=name)
    fresh_optimizers(state)


def test_from_our_run_and_nvidias_pickle(demo_data, tmp_path, monkeypatch):
    first = train.main([demo_data, "--init_size", "8", "--max_size", "16", "--phase", "8",
                        "--width", "16", "--code_dim", "16", "--n_mlp", "2", "--iters", "6",
                        *NARROW_ARGS, *folders(tmp_path / "first")])
    path = str(tmp_path / "first" / "checkpoint" / "last.model")
    state = started_state(monkeypatch, [demo_data, "--from", path, "--width", "512", *NARROW_ARGS,
                                        *folders(tmp_path / "second")])
    assert (state.args.init_size, state.args.max_size, state.iteration, state.used_samples) == \
        (16, 16, 0, 0)
    assert state.args.width == 16  # the shape comes from the file, whatever is typed
    np.testing.assert_array_equal(state.g_running.w_avg.numpy(), first.g_running.w_avg.numpy())
    np.testing.assert_array_equal(state.discriminator.linear.linear.weight_orig.numpy(),
                                  first.discriminator.linear.linear.weight_orig.numpy())
    fresh_optimizers(state)
    official = started_state(monkeypatch, [demo_data, "--from", data_path("official_small_32.pkl"),
                                           *NARROW_ARGS, *folders(tmp_path / "third")])
    assert (official.args.init_size, official.args.max_size, official.iteration) == (32, 32, 0)
    assert official.g_running.w_avg.numpy().any()  # NVIDIA's dlatent_avg
    fresh_optimizers(official)


def test_from_names_what_does_not_fit(demo_data, tmp_path):
    small = tmp_path / "small"
    shutil.copytree(demo_data, small)
    shutil.rmtree(small / "32")
    with pytest.raises(UsageError, match="32"):
        train.main([str(small), "--from", data_path("official_small_32.pkl"), *NARROW_ARGS,
                    *folders(tmp_path)])
    with pytest.raises(UsageError, match="give one of them"):
        train.main([demo_data, "--from", "a.model", "--ckpt", "b.model", *folders(tmp_path)])


def test_frozen_d_blocks_keep_their_weights_and_adam_state():
    state = TrainingState(default_training_args(**NARROW, batch=4, precision="float32",
                                                freeze_d=1))
    d = state.discriminator
    top = d.n_blocks - 1 - 2  # 16 px: step 2
    frozen = d.progression[top].parameters() + d.from_rgb[top].parameters()
    learning = d.progression[top + 1].parameters() + d.linear.parameters()
    before = [p.numpy() for p in frozen + learning]
    for seed in range(2):
        training_step(state, randn(4, 3, 16, 16, seed=seed).stop_grad(), Plan(2, 1.0, 4, 0.002))
    after = [p.numpy() for p in frozen + learning]
    for old, new in zip(before[:len(frozen)], after[:len(frozen)]):
        np.testing.assert_array_equal(old, new)
    assert all(not np.array_equal(old, new)
               for old, new in zip(before[len(frozen):], after[len(frozen):]))
    counts = dict(zip(map(id, state.d_optimizer.param_groups[0]["params"]),
                      zip(state.d_optimizer.param_groups[0]["steps"],
                          state.d_optimizer.param_groups[0]["values"])))
    assert all(counts[id(p)][0] == 0 and not counts[id(p)][1].numpy().any() for p in frozen)
    assert all(counts[id(p)][0] == 2 for p in learning)


def test_r_t_reads_memorising_and_fooled_discriminators():
    high, low = jt.array(np.full(8, 3.0, np.float32)), jt.array(np.full(8, -3.0, np.float32))
    assert real_sign("r1", high, low).item() == 1.0  # every real called real
    assert real_sign("r1", low, high).item() == -1.0
    # a critic's scores are only ever compared: all reals above the fakes is 1 at any offset
    assert real_sign("wgan-gp", low, low - 2.0).item() == 1.0
    mixed = jt.array(np.array([1, -1, 2, -2], np.float32))
    assert real_sign("wgan-gp", mixed, jt.zeros(4)).item() == 0.0


def test_p_moves_up_on_a_memorising_d_and_down_on_one_that_is_not():
    state = TrainingState(default_training_args(**NARROW, augment="ada", ada_kimg=10))
    step = 32 * ADA_INTERVAL / 10_000  # images per adjustment / (ada_kimg * 1000)
    for r_t in [1.0] * ADA_INTERVAL * 2:
        adapt_probability(state, jt.array(np.float32(r_t)), 32)
    assert state.augment_p == pytest.approx(2 * step)
    for r_t in [0.9, 0.3, 0.5, 0.4]:  # mean 0.525, below the target 0.6
        adapt_probability(state, jt.array(np.float32(r_t)), 32)
    assert state.augment_p == pytest.approx(step)
    for _ in range(ADA_INTERVAL * 5):
        adapt_probability(state, jt.array(np.float32(-1.0)), 32)
    assert state.augment_p == 0.0  # never below 0
    for _ in range(ADA_INTERVAL * 100):
        adapt_probability(state, jt.array(np.float32(1.0)), 32)
    assert state.augment_p == 1.0  # nor above 1


def test_a_resumed_ada_run_is_bit_identical_and_logs_p(demo_data, tmp_path):
    def run(out, *extra):
        return train.main([demo_data, "--init_size", "8", "--max_size", "8", "--width", "16",
                           "--code_dim", "16", "--n_mlp", "2", "--loss", "r1", "--augment", "ada",
                           "--ada_kimg", "0.05", "--ada_target", "0.0", *NARROW_ARGS,
                           *folders(tmp_path / out), *extra])
    straight = run("straight", "--iters", "10", "--save_every", "100")
    run("halves", "--iters", "6", "--save_every", "100")  # stops mid-interval (6 = 4 + 2)
    resumed = run("halves", "--iters", "10", "--save_every", "100",
                  "--ckpt", str(tmp_path / "halves" / "checkpoint" / "last.model"))
    assert straight.augment_p > 0 and straight.augment_p == resumed.augment_p
    assert straight.ada_signs == resumed.ada_signs and len(straight.ada_signs) == 2
    for a, b in zip(straight.discriminator.parameters(), resumed.discriminator.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    import json
    with open(tmp_path / "straight" / "checkpoint" / "log.jsonl") as log:
        logged = [json.loads(line) for line in log if "augment_p" in line]
    assert len(logged) == 10 and logged[-1]["augment_p"] == straight.augment_p
