import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import train
from formats.checkpoints import load_generator, read_checkpoint, save_checkpoint
from conftest import ROOT, randn
from training.losses import LOSSES, discriminator_loss, generator_loss
from model import Discriminator
from cli import UsageError
from runtime import jt
from training.schedule import Plan, training_schedule
import training.steps
import training.state
import training.optimizers

TINY = ["--width", "16", "--code_dim", "16", "--n_mlp", "2", "--batch", "4", "--workers", "0",
        "--log_every", "5", "--device", "cpu"]


def test_schedule_phases_alpha_and_ends():
    def plan(samples):
        return training_schedule(samples, init_step=1, max_step=3, phase=100)

    assert plan(0) == Plan(1, 1.0, 32, 0.001)  # first resolution: nothing to fade from
    assert plan(199) == Plan(1, 1.0, 32, 0.001)
    assert plan(200) == Plan(2, 0.01, 32, 0.001)  # fade starts: alpha = (n + 1) / phase
    assert plan(249).alpha == 0.5
    assert plan(299).alpha == 1.0 and plan(399).alpha == 1.0 and plan(399).step == 2
    assert plan(400).step == 3 and plan(400).alpha == 0.01 and plan(400).resolution == 32
    last = plan(10**7)  # the last resolution trains on
    assert (last.step, last.alpha) == (3, 1.0)


def test_sched_learning_rates_and_batches():
    def plan(step):
        return training_schedule(0, init_step=step, max_step=8, phase=10, batch=16, sched=True)

    assert [plan(s).batch_size for s in range(7)] == [512, 256, 128, 64, 32, 32, 32]
    assert [plan(s).lr for s in (4, 5, 6, 7, 8)] == [0.001, 0.0015, 0.002, 0.003, 0.003]
    assert plan(7).batch_size == 16  # beyond the table: --batch
    no_sched = training_schedule(0, 5, 8, 10, batch=16, lr=0.002)
    assert (no_sched.batch_size, no_sched.lr) == (16, 0.002)


class LinearCritic:
    """D(x) = sum(w * x): its input gradient is w, so penalties have closed forms."""

    def __init__(self, weight):
        self.weight = weight

    def __call__(self, x, step=0, alpha=-1):
        return (x * self.weight).sum([1, 2, 3]).reshape(-1, 1)


def test_penalties_match_closed_forms():
    w = randn(1, 3, 4, 4, seed=1)
    real, fake = randn(5, 3, 4, 4, seed=2).stop_grad(), randn(5, 3, 4, 4, seed=3)
    norm_sq = float((w.numpy().astype(np.float64) ** 2).sum())
    _, r1 = discriminator_loss("r1", LinearCritic(w), real, fake, 0, -1, r1_gamma=10)
    assert abs(r1.item() - 5 * norm_sq) < 1e-3 * norm_sq
    _, gp = discriminator_loss("wgan-gp", LinearCritic(w), real, fake, 0, -1)
    assert abs(gp.item() - 10 * (np.sqrt(norm_sq) - 1) ** 2) < 1e-3 * gp.item()
    _, div = discriminator_loss("wgan-div", LinearCritic(w), real, fake, 0, -1)
    assert abs(div.item() - 2 * norm_sq ** 3) < 1e-3 * div.item()


@pytest.mark.parametrize("kind", ["r1", "wgan-gp", "wgan-div"])
def test_lazy_penalty_weighs_k_times_or_is_skipped(kind):
    """penalty_scale k adds k x the penalty; 0 leaves it out (and with it the double backward):
    the gradient D's weights get is then that of the loss without the penalty."""
    w = randn(1, 3, 4, 4, seed=1)
    real, fake = randn(5, 3, 4, 4, seed=2).stop_grad(), randn(5, 3, 4, 4, seed=3)

    def loss(scale):
        jt.set_seed(7)  # the same interpolation weights for every call
        return discriminator_loss(kind, LinearCritic(w), real, fake, 0, -1, penalty_scale=scale)

    (once, penalty), (four_times, penalty_again), (skipped, none) = loss(1), loss(4), loss(0)
    assert none is None and abs(penalty.item() - penalty_again.item()) < 1e-6 * penalty.item()
    base = once.item() - penalty.item()
    tolerance = 1e-5 * (abs(once.item()) + 4 * abs(penalty.item())) + 1e-5
    assert abs(four_times.item() - (base + 4 * penalty.item())) < tolerance
    assert abs(skipped.item() - base) < tolerance
    grad_skipped = jt.grad(skipped, w).numpy()
    grad_penalty = jt.grad(penalty, w).numpy()
    grad_once = jt.grad(once, w).numpy()
    assert np.abs(grad_penalty).max() > 1e-3
    np.testing.assert_allclose(grad_skipped, grad_once - grad_penalty, rtol=1e-4,
                               atol=1e-5 * (1 + np.abs(grad_penalty).max()))


@pytest.mark.parametrize("kind", LOSSES)
def test_losses_finite_and_penalties_reach_d_weights(kind):
    d = Discriminator(width=16)
    real = randn(4, 3, 8, 8, seed=1).stop_grad()  # as batches from a Dataset are
    fake = randn(4, 3, 8, 8, seed=2)
    d_loss, penalty = discriminator_loss(kind, d, real, fake, 1, 0.5)
    g_loss = generator_loss(kind, d(fake, step=1, alpha=0.5))
    assert np.isfinite([d_loss.item(), g_loss.item(), penalty.item()]).all()
    if kind in ("hinge", "logistic"):
        assert penalty.item() == 0
        return
    assert penalty.item() > 0
    weights = [p for p in d.parameters()]
    grads = jt.grad(penalty, weights)
    assert sum(float(np.abs(g.numpy()).sum()) > 0 for g in grads) >= 5
    before = [p.numpy().copy() for p in weights]
    optimizer = jt.optim.Adam(weights, lr=0.01)
    optimizer.step(penalty)
    assert any(np.abs(p.numpy() - b).max() > 1e-4 for p, b in zip(weights, before))


def run_train(demo_data, out, *extra):
    argv = [demo_data, "--init_size", "8", "--max_size", "16", "--phase", "40", *TINY,
            "--checkpoint_dir", str(out / "checkpoint"), "--sample_dir", str(out / "sample"),
            *extra]
    return train.main(argv)


def test_tiny_run_writes_samples_checkpoints_and_log(demo_data, tmp_path):
    state = run_train(demo_data, tmp_path, "--iters", "30", "--sample_every", "10",
                      "--save_every", "15")
    assert (state.iteration, state.used_samples) == (30, 120)
    assert sorted(os.listdir(tmp_path / "sample")) == ["000010.png", "000020.png", "000030.png",
                                                        "plot.png"]
    names = sorted(os.listdir(tmp_path / "checkpoint"))
    assert names == ["000015.model", "000030.model", "last.model", "log.jsonl",
                     "train_step-2.model"]  # 8 -> 16 px after 2 x 40 samples
    log = [json.loads(line) for line in open(tmp_path / "checkpoint" / "log.jsonl")]
    assert [r["iteration"] for r in log] == [5, 10, 15, 20, 25, 30]
    # iteration 30 trained at 116 samples seen: 36 into the 16 px fade, alpha = 37 / 40
    assert log[-1]["size"] == 16 and log[-1]["alpha"] == 37 / 40
    assert all(np.isfinite(r["d_loss"]) and r["penalty"] > 0 for r in log)
    ema = read_checkpoint(str(tmp_path / "checkpoint" / "000030.model"))
    assert ema["meta"]["size"] == 16 and "style.1.linear.weight_orig" in ema
    # the demo digits are greyscale: --colour auto trained a grey generator, and loading
    # the file gives one back
    assert state.args.colour == "grey" and ema["meta"]["grey"] is True
    generator, _ = load_generator(str(tmp_path / "checkpoint" / "000030.model"))
    images = generator(randn(3, 16), step=2).numpy()
    assert images.std() > 0 and np.array_equal(images[:, 0], images[:, 1]) \
        and np.array_equal(images[:, 0], images[:, 2])
    from PIL import Image

    sample = np.asarray(Image.open(tmp_path / "sample" / "000030.png"))
    # 4 x 8 grid of 16 px with 2 px gaps, shown 4x (each image at 64 px) by nearest neighbour
    assert sample.shape == (4 * (4 * 18 + 2), 4 * (8 * 18 + 2), 3)
    assert np.array_equal(sample, sample[::4, ::4].repeat(4, 0).repeat(4, 1))


def test_one_training_state_file_per_resolution_not_per_phase(demo_data, tmp_path):
    # --phase 10, batch 4: 8 px up to 20 samples, then 16 px; the stretches of 20 samples that
    # begin at 40, 60, 80 and 100 begin no new resolution
    state = run_train(demo_data, tmp_path, "--phase", "10", "--iters", "25",
                      "--sample_every", "1000", "--save_every", "1000")
    assert state.used_samples == 100
    assert sorted(os.listdir(tmp_path / "checkpoint")) == ["last.model", "log.jsonl",
                                                           "train_step-2.model"]
    begun_16px = read_checkpoint(str(tmp_path / "checkpoint" / "train_step-2.model"))
    assert begun_16px["progress"]["used_samples"] == 20


def test_lazy_penalty_every_third_minibatch_and_logged_each_time(demo_data, tmp_path,
                                                                  monkeypatch):
    scales = []

    def recording_loss(*args, **kwargs):
        scales.append(kwargs["penalty_scale"])
        return discriminator_loss(*args, **kwargs)

    monkeypatch.setattr(training.steps, "discriminator_loss", recording_loss)
    run_train(demo_data, tmp_path, "--iters", "10", "--penalty_every", "3")
    assert scales == [3, 0, 0, 3, 0, 0, 3, 0, 0, 3]
    log = [json.loads(line) for line in open(tmp_path / "checkpoint" / "log.jsonl")]
    assert len(log) == 2 and all(r["penalty"] > 0 for r in log)  # the latest one computed


def test_only_the_blocks_that_run_are_trained_and_everything_trains_afterwards(
        demo_data, tmp_path, monkeypatch):
    seen = []

    def recording_step(state, real, plan, labels=None):
        seen.append({name: {id(p) for group in optimizer.param_groups for p in group["params"]
                            if not p.is_stop_grad()}
                     for name, optimizer in (("G", state.g_optimizer), ("D", state.d_optimizer))})
        seen[-1]["state"], seen[-1]["plan"] = state, plan
        return discriminator_step(state, real, plan, labels)

    discriminator_step = training.steps.discriminator_step
    monkeypatch.setattr(training.steps, "discriminator_step", recording_step)
    state = run_train(demo_data, tmp_path, "--iters", "12", "--phase", "16")  # 8 px, 16 px fade
    assert {record["plan"].alpha < 1 for record in seen} == {True, False}
    for record in seen:
        step, alpha = record["plan"].step, record["plan"].alpha
        for name, model in (("G", state.generator), ("D", state.discriminator)):
            running = {id(p) for module in model.modules_in_use(step, alpha)
                       for p in module.parameters()}
            assert record[name] == running & {id(p) for p in training.optimizers.trainable(model)}
    # the EMA copy of a block not grown yet stayed equal to the block
    ema = dict(state.g_running.named_parameters())
    for name, value in state.generator.named_parameters():
        if name.startswith("generator.progression.5.") and name in ema:
            assert np.array_equal(ema[name].numpy(), value.numpy())
    assert not any(p.is_stop_grad() for optimizer in (state.g_optimizer, state.d_optimizer)
                   for group in optimizer.param_groups for p in group["params"])


def test_same_seed_same_run(demo_data, tmp_path):
    """The demo's figures repeat on one machine: same seed and arguments, same weights."""
    runs = [run_train(demo_data, tmp_path / name, "--iters", "6", "--sample_every", "100",
                      "--save_every", "100", "--workers", "2", "--seed", seed)
            for name, seed in (("a", "3"), ("b", "3"), ("c", "4"))]
    weights = [[v.numpy() for module in (run.g_running, run.discriminator)
                for v in module.state_dict().values()] for run in runs]
    assert all(np.array_equal(a, b) for a, b in zip(weights[0], weights[1]))
    assert not all(np.array_equal(a, c) for a, c in zip(weights[0], weights[2]))


def test_resume_restores_everything_exactly(demo_data, tmp_path):
    first = run_train(demo_data, tmp_path, "--iters", "12", "--save_every", "12",
                      "--sample_every", "100", "--lr", "0.002")
    saved = read_checkpoint(str(tmp_path / "checkpoint" / "last.model"))
    assert saved["progress"] == {"iteration": 12, "used_samples": 48, "data_stream": {
        "resolution": 8, "batch": 4, "position": 12}, "augment_p": 0.0, "ada_signs": []}
    restored = training.state.TrainingState(first.args)
    restored.restore(saved, "last.model")
    for name in ("g_optimizer", "d_optimizer"):
        ours, original = getattr(restored, name), getattr(first, name)
        assert ours.n_step == original.n_step == 12
        for group, original_group in zip(ours.param_groups, original.param_groups):
            assert group["lr"] == original_group["lr"]
            for key in ("m", "values"):
                for a, b in zip(group[key], original_group[key]):
                    assert np.array_equal(a.numpy(), b.numpy())
    for name in ("generator", "discriminator", "g_running"):
        for a, b in zip(getattr(restored, name).state_dict().values(),
                        getattr(first, name).state_dict().values()):
            assert np.array_equal(a.numpy(), b.numpy())
    # continue from the file; settings not typed again come from the checkpoint
    resumed = train.main([demo_data, "--ckpt", str(tmp_path / "checkpoint" / "last.model"),
                          "--iters", "16", "--checkpoint_dir", str(tmp_path / "checkpoint"),
                          "--sample_dir", str(tmp_path / "sample"), "--workers", "0"])
    assert (resumed.iteration, resumed.used_samples) == (16, 64)
    assert resumed.args.lr == 0.002 and resumed.args.width == 16
    assert resumed.g_optimizer.n_step == 16


def test_resuming_a_checkpoint_from_before_colour_keeps_rgb(demo_data, tmp_path):
    run_train(demo_data, tmp_path, "--iters", "2", "--save_every", "2")
    path = str(tmp_path / "checkpoint" / "last.model")
    old = read_checkpoint(path)
    assert old["args"]["colour"] == "grey"  # the demo digits are grey
    del old["args"]["colour"], old["meta"]["grey"]
    save_checkpoint(old, path)
    resumed = train.main([demo_data, "--ckpt", path, "--iters", "3", "--workers", "0",
                          "--checkpoint_dir", str(tmp_path / "checkpoint"),
                          "--sample_dir", str(tmp_path / "sample")])
    assert resumed.args.colour == "rgb" and not resumed.generator.generator.grey


def test_ema_only_and_foreign_checkpoints_start_fresh_parts(demo_data, tmp_path):
    state = run_train(demo_data, tmp_path, "--iters", "5", "--save_every", "5")
    ema_only = str(tmp_path / "checkpoint" / "000005.model")
    other = training.state.TrainingState(state.args)
    message = other.restore(read_checkpoint(ema_only), ema_only)
    assert "generator only" in message and other.iteration == 0
    full = read_checkpoint(str(tmp_path / "checkpoint" / "last.model"))
    foreign = {k: full[k] for k in ("generator", "discriminator", "g_running")}
    message = training.state.TrainingState(state.args).restore(foreign, "train_step-3.model")
    assert "optimizers and progress start fresh" in message
    # from the command line: the narrow architecture is read from the EMA-only file
    resumed = train.main([demo_data, "--ckpt", ema_only, "--iters", "2", "--workers", "0",
                          "--checkpoint_dir", str(tmp_path / "again"),
                          "--sample_dir", str(tmp_path / "again_samples")])
    assert (resumed.args.width, resumed.args.code_dim, resumed.args.n_mlp) == (16, 16, 2)
    assert resumed.iteration == 2


def test_fine_tunes_nvidias_model_at_its_size(demo_data, tmp_path, capsys, monkeypatch):
    """G, D and Gs of an official pickle become the training state, exactly; training goes
    on in NVIDIA's layout (per-layer noise, stddev groups of 4) and saves files that load."""
    from conftest import data_path
    from formats.official import noise_maps

    path = data_path("official_small_32.pkl")
    reference = np.load(data_path("official_small_32_outputs.npz"))
    folders = ["--checkpoint_dir", str(tmp_path / "checkpoint"), "--sample_dir",
               str(tmp_path / "sample"), "--workers", "0", "--device", "cpu",
               "--precision", "float32"]  # compared with NVIDIA's float32 outputs
    with monkeypatch.context() as patch:  # the state as training would start from it
        patch.setattr(train, "train", lambda state, dataset: None)
        loaded = train.main([demo_data, "--ckpt", path, *folders])
    assert "loaded NVIDIA's G, D and Gs" in capsys.readouterr().err
    args = loaded.args
    assert (args.init_size, args.max_size, args.colour, args.stddev_group) == (32, 32, "rgb", 4)
    noise = [jt.array(np.repeat(n, 4, 0)) for n in read_checkpoint(path)["noise"]]
    z = jt.array(reference["z"])
    with jt.no_grad():
        gs_images = loaded.g_running(z, noise=noise, step=3, alpha=1).numpy()
        scores = loaded.discriminator(jt.array(reference["rand_images"]), step=3, alpha=1)
    assert np.abs(gs_images - reference["images_psi1"]).max() < 1e-4
    assert np.abs(scores.numpy() - reference["d_scores_rand_images"]).max() < 1e-4 * np.abs(
        reference["d_scores_rand_images"]).max()
    assert not np.allclose(loaded.generator(z, noise=noise, step=3, alpha=1).numpy(), gs_images)

    train.main([demo_data, "--ckpt", path, "--iters", "1", "--batch", "4", *folders])
    resumed = train.main([demo_data, "--ckpt", str(tmp_path / "checkpoint" / "last.model"),
                          "--iters", "2", "--sample_every", "1", "--save_every", "2", *folders])
    assert resumed.iteration == 2 and resumed.generator.generator.noise_per_layer
    assert resumed.args.batch == 4 and resumed.discriminator.stddev_group == 4
    assert "000002.png" in os.listdir(tmp_path / "sample")
    tuned, checkpoint = load_generator(str(tmp_path / "checkpoint" / "000002.model"))
    assert checkpoint["meta"]["size"] == 32 and tuned.generator.noise_per_layer
    with jt.no_grad():
        images = tuned(z, noise=noise, step=3, alpha=1).numpy()
    assert 0 < np.abs(images - gs_images).max() < 0.1  # two EMA steps away from Gs


def test_diverged_training_stops_and_keeps_last_checkpoint(demo_data, tmp_path):
    run_train(demo_data, tmp_path, "--iters", "5", "--save_every", "5")
    good = open(tmp_path / "checkpoint" / "last.model", "rb").read()
    with pytest.raises(UsageError, match=r"became (nan|inf) at iteration 5.*last good checkpoint"):
        run_train(demo_data, tmp_path, "--iters", "10", "--save_every", "5", "--lr", "1e30")
    assert open(tmp_path / "checkpoint" / "last.model", "rb").read() == good


def test_kill_during_save_leaves_previous_checkpoint_loadable(tmp_path):
    path = str(tmp_path / "last.model")
    save_checkpoint({"progress": {"iteration": 1}, "weights": np.ones(1000)}, path)
    child = os.fork()
    if child == 0:  # the child is killed in the middle of writing a new checkpoint
        # SIGTERM, not SIGKILL: Jittor's SIGCHLD handler ends the parent when a child dies
        # of any other signal. Its default action is as abrupt: no finally blocks run.
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGTERM)
        save_checkpoint({"progress": {"iteration": 2}, "weights": np.zeros(10**6)}, path)
        os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    assert read_checkpoint(path)["progress"]["iteration"] == 1


def test_bad_arguments_are_one_line_errors(demo_data, tmp_path):
    with pytest.raises(UsageError, match="no 64 px images"):
        run_train(demo_data, tmp_path, "--max_size", "64")
    with pytest.raises(UsageError, match="--init_size 12: must be a power of two"):
        run_train(demo_data, tmp_path, "--init_size", "12")
    with pytest.raises(UsageError, match="no such checkpoint file"):
        run_train(demo_data, tmp_path, "--ckpt", str(tmp_path / "nope.model"))
    with pytest.raises(UsageError, match=r"--stddev_group 4: must divide the batch .* \(6\)"):
        run_train(demo_data, tmp_path, "--stddev_group", "4", "--batch", "6")
    from conftest import data_path
    with pytest.raises(UsageError, match="holds networks up to 32 px; choose --max_size 32"):
        train.main([demo_data, "--ckpt", data_path("official_small_32.pkl"), "--max_size",
                    "64", "--workers", "0", "--device", "cpu"])
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"),
                             str(tmp_path / "missing"), "--device", "cpu"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'missing'}: no such data folder"
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="needs openmpi-bin (mpirun)")
@pytest.mark.parametrize("labels", [[], ["--cond"]], ids=["unconditional", "conditional"])
def test_two_mpi_ranks_train_in_step_and_as_one_rank(demo_data, tmp_path, labels):
    """Each rank takes every other sample of the global batch (data, latents, noise, and a
    conditional run's labels of reals and fakes), and D's stddev groups of 2 fall within a
    rank, so 2 ranks train as 1 rank does."""
    command = ["mpirun", "--oversubscribe"]
    if os.geteuid() == 0:
        command.append("--allow-run-as-root")
    argv = [demo_data, "--init_size", "8", "--max_size", "16", "--phase", "16", *TINY,
            "--stddev_group", "2", "--iters", "10", "--save_every", "10", "--sample_every", "10",
            "--precision", "float32", *labels]  # bfloat16 rounds differently for half batches
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = [sys.executable, os.path.join(ROOT, "test", "mpi_worker.py")]
    # one rank first fills Jittor's cache with the MPI operators: two ranks compiling the same
    # operators into a cold cache at once crashed one of them (a Jittor race, not training)
    runs = {}
    for ranks in (1, 2):
        out = tmp_path / f"ranks{ranks}"
        result = subprocess.run(command + ["-np", str(ranks)] + worker + [str(out)] + argv
                                + ["--checkpoint_dir", str(out / "checkpoint"),
                                   "--sample_dir", str(out / "sample")],
                                capture_output=True, text=True, env=env, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[ranks] = [np.load(out / f"rank{rank}.npz") for rank in range(ranks)]
    one, (rank0, rank1) = runs[1][0], runs[2]
    assert set(rank0.files) == set(rank1.files) == set(one.files)
    for key in rank0.files:  # grads averaged, w_avg synced: identical weights on both ranks
        assert np.array_equal(rank0[key], rank1[key]), key
    # the same training as one rank, up to float rounding in the gradient all-reduce: the
    # losses of the first iterations agree to float precision
    logs = [[json.loads(line) for line in open(tmp_path / f"ranks{ranks}" / "checkpoint" /
                                                "log.jsonl")] for ranks in (1, 2)]
    for name in ("d_loss", "g_loss"):
        assert abs(logs[1][0][name] - logs[0][0][name]) < 1e-5 * abs(logs[0][0][name]), name
    # and the weights: Adam's first steps are +-lr whatever the gradient's size, so where a
    # gradient is near 0 the rounding can flip a step (seen with --cond, whose label paths
    # add many such): those runs are held to a few steps, unconditional ones to 1e-3 relative
    keys = [key for key in one.files if key != "sees_nan"]
    if labels:
        assert max(np.abs(rank0[key] - one[key]).max() for key in keys) < 5 * 0.001
    else:
        worst, key = max((np.abs(rank0[key] - one[key]).max() / (np.abs(one[key]).max()
                                                                  + 1e-12), key) for key in keys)
        assert worst < 1e-3, (worst, key)
    assert np.abs(rank0["generator.w_avg"]).max() > 0
    assert rank0["sees_nan"] and rank1["sees_nan"]
    log = [json.loads(line) for line in open(tmp_path / "ranks2" / "checkpoint" / "log.jsonl")]
    assert [r["iteration"] for r in log] == [5, 10]  # one writer
    assert log[-1]["used_samples"] == 40 and log[-1]["size"] == 16
    assert sorted(os.listdir(tmp_path / "ranks2" / "sample")) == ["000010.png", "plot.png"]


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="needs openmpi-bin (mpirun)")
def test_sigterm_to_one_rank_stops_all_at_one_iteration(demo_data, tmp_path):
    command = ["mpirun", "--oversubscribe", "-np", "2"]
    if os.geteuid() == 0:
        command.append("--allow-run-as-root")
    checkpoints = tmp_path / "checkpoint"
    argv = [demo_data, "--init_size", "8", "--max_size", "16", "--phase", "16", *TINY,
            "--log_every", "1", "--iters", "100000", "--save_every", "100000",
            "--checkpoint_dir", str(checkpoints), "--sample_dir", str(tmp_path / "sample")]
    worker = [sys.executable, os.path.join(ROOT, "test", "mpi_worker.py"), str(tmp_path)]
    process = subprocess.Popen(command + worker + argv, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    log = checkpoints / "log.jsonl"
    deadline = time.time() + 300
    while not (log.exists() and log.read_text().count("\n") >= 2):
        assert process.poll() is None and time.time() < deadline, process.communicate()[1][-3000:]
        time.sleep(0.2)
    os.kill(int((tmp_path / "pid1").read_text()), signal.SIGTERM)  # rank 1 only
    _, stderr = process.communicate(timeout=300)
    stops = [line for line in stderr.splitlines() if line.startswith("stopped by SIGTERM")]
    assert len(stops) == 1, stderr[-3000:]  # rank 0 reports and writes, once
    iteration = read_checkpoint(str(checkpoints / "last.model"))["progress"]["iteration"]
    assert f"at iteration {iteration}:" in stops[0]
    assert sorted(os.listdir(checkpoints)) == ["last.model", "log.jsonl"]


def test_a_resumed_run_takes_typed_options_even_at_their_default():
    """Seen: resuming a --lr 0.003 run with --lr 0.001 (the default) kept 0.003."""
    saved = {"progress": {"iteration": 10}, "args": {"lr": 0.003, "iters": 100, "mixing": False}}
    args, typed = train.parse_args(["data", "--lr", "0.001", "--mixing"])
    resumed = train.resumed_args(args, typed, saved)
    assert (resumed.lr, resumed.mixing, resumed.iters) == (0.001, True, 100)
    args, typed = train.parse_args(["data"])
    resumed = train.resumed_args(args, typed, saved)
    assert (resumed.lr, resumed.mixing, resumed.iters) == (0.003, False, 100)


def test_progress_bar_redraws_rarely_when_the_output_is_a_file(demo_data, tmp_path):
    # stderr is a pipe here, as in `python train.py ... 2> train.log`: a bar redrawn ten times
    # a second would keep every redraw in the file
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), demo_data,
                             "--init_size", "8", "--max_size", "16", "--phase", "40", *TINY,
                             "--iters", "40", "--checkpoint_dir", str(tmp_path / "checkpoint"),
                             "--sample_dir", str(tmp_path / "sample")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(open(tmp_path / "checkpoint" / "log.jsonl").readlines()) == 8
    redraws = [line for line in result.stderr.splitlines() if "/40 [" in line]
    assert 1 <= len(redraws) <= 3, redraws
    assert "40/40" in redraws[-1] and "16px G:" in redraws[-1]
