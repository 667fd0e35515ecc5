"""Reliability: a run is a function of its seed; a kill costs only the iterations since the
last save; Ctrl-C and SIGTERM save and stop; a failed save keeps the previous checkpoint."""
import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import train
from formats.checkpoints import read_checkpoint
from conftest import ROOT
from cli import UsageError
import training.signals
from formats import checkpoints

# 8 px for iterations 0-7, then 16 px fading in over iterations 8-11, stable from 12
RECIPE = ["--init_size", "8", "--max_size", "16", "--phase", "16", "--width", "16",
          "--code_dim", "16", "--n_mlp", "2", "--batch", "4", "--log_every", "1",
          "--sample_every", "1000", "--save_every", "5", "--mixing", "--device", "cpu"]
ITERS = 14


def folders(out):
    return ["--checkpoint_dir", str(out / "checkpoint"), "--sample_dir", str(out / "sample")]


def flat_state(path):
    """Every array and number of a checkpoint, keyed by its place in the tree."""
    flat = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}/{key}", item)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(f"{prefix}/{index}", item)
        else:
            flat[prefix] = value
    saved = read_checkpoint(path)
    for key in ("generator", "discriminator", "g_running", "g_optimizer", "d_optimizer",
                "progress"):
        walk(key, saved[key])
    return flat


@pytest.fixture(scope="module")
def straight_run(demo_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    train.main([demo_data, *RECIPE, "--iters", str(ITERS), "--workers", "0", *folders(out)])
    return flat_state(str(out / "checkpoint" / "last.model")), out


def test_a_second_run_in_the_same_process_repeats_the_first(demo_data, straight_run, tmp_path):
    """Constants made at first use inside a training step once made the second run of a
    process (constants already there) differ from the first."""
    train.main([demo_data, *RECIPE, "--iters", str(ITERS), "--workers", "0", *folders(tmp_path)])
    expected, _ = straight_run
    again = flat_state(str(tmp_path / "checkpoint" / "last.model"))
    assert [key for key in expected if not np.array_equal(again[key], expected[key])] == []


@pytest.mark.parametrize("kill_at, workers", [(3, "0"), (7, "2"), (11, "0"), (11, "2")],
                         ids=["before-first-save", "mid-phase-loaders", "mid-fade",
                              "mid-fade-loaders"])
def test_killed_and_resumed_run_ends_bit_identical(demo_data, straight_run, tmp_path,
                                                   kill_at, workers):
    command = [sys.executable, os.path.join(ROOT, "test", "kill_worker.py"), str(kill_at),
               demo_data, *RECIPE, "--iters", str(ITERS), "--workers", workers,
               *folders(tmp_path)]
    # through a shell: Jittor ends the process whose child dies by a signal (its SIGCHLD
    # handler), and the shell is the one that sees this death
    killed = subprocess.run(["bash", "-c", '"$@"; echo "status $?"', "-", *command],
                            capture_output=True, text=True, timeout=600)
    assert killed.stdout.split()[-1] == str(128 + signal.SIGKILL), killed.stderr[-2000:]
    last = tmp_path / "checkpoint" / "last.model"
    resume = ["--ckpt", str(last)] if last.exists() else []  # no save yet: start again
    assert bool(resume) == (kill_at >= 5)
    resumed = train.main([demo_data, *RECIPE, "--iters", str(ITERS), "--workers", workers,
                          *folders(tmp_path), *resume])
    assert resumed.iteration == ITERS
    expected, straight_out = straight_run
    ours = flat_state(str(last))
    assert ours.keys() == expected.keys()
    different = [key for key in expected if not np.array_equal(ours[key], expected[key])]
    assert not different, different[:5]
    # the log holds each iteration once, as the straight run's
    logged = [json.loads(line)["iteration"] for line in open(tmp_path / "checkpoint" / "log.jsonl")]
    assert logged == list(range(1, ITERS + 1))


def start_training(demo_data, out, *extra):
    """A long run in its own process group, as a terminal or a batch system starts it."""
    command = [sys.executable, os.path.join(ROOT, "train.py"), demo_data, *RECIPE,
               "--iters", "100000", *folders(out), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    log = out / "checkpoint" / "log.jsonl"
    deadline = time.time() + 300
    while not (log.exists() and log.read_text().count("\n") >= 2):
        assert process.poll() is None and time.time() < deadline, process.communicate()[1][-2000:]
        time.sleep(0.2)
    return process


@pytest.mark.parametrize("signum, workers", [(signal.SIGINT, "2"), (signal.SIGTERM, "0")])
def test_signal_saves_and_stops_with_resume_line(demo_data, tmp_path, signum, workers):
    process = start_training(demo_data, tmp_path, "--workers", workers)
    os.killpg(process.pid, signum)  # Ctrl-C reaches the loader processes too
    time.sleep(0.05)
    os.killpg(process.pid, signum)  # a second one, during the save, changes nothing
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 128 + signum, stderr[-2000:]
    last = str(tmp_path / "checkpoint" / "last.model")
    iteration = read_checkpoint(last)["progress"]["iteration"]
    name = signal.Signals(signum).name
    assert stderr.strip().splitlines()[-1] == (
        f"stopped by {name} at iteration {iteration}: saved {last}; resume with: "
        f"python train.py {demo_data} --ckpt {last}")
    assert "Traceback" not in stderr
    assert not [name for name in os.listdir(tmp_path / "checkpoint") if ".tmp" in name]


def test_failed_save_keeps_previous_checkpoint(demo_data, tmp_path, monkeypatch):
    train.main([demo_data, *RECIPE, "--iters", "5", "--workers", "0", *folders(tmp_path)])
    last = tmp_path / "checkpoint" / "last.model"
    before = last.read_bytes()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoints.os, "fsync", disk_full)
    with pytest.raises(UsageError, match=r"checkpoint/\S+\.model: cannot write the checkpoint "
                                         r"\(No space left on device\); any earlier file there "
                                         r"is kept"):
        train.main([demo_data, *RECIPE, "--iters", "10", "--workers", "0", "--ckpt", str(last),
                    *folders(tmp_path)])
    assert last.read_bytes() == before
    assert sorted(os.listdir(tmp_path / "checkpoint")) == ["000005.model", "last.model",
                                                           "log.jsonl"]


def test_image_deleted_during_training_is_skipped_and_counted(demo_data, tmp_path, capfd,
                                                               monkeypatch):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(demo_data, data)
    gone = sorted(os.listdir(data / "8"))[::4]  # 16 of 64, so some are met in 8 iterations
    train_loop = train.train

    def delete_then_train(state, dataset):  # the folders are listed by now
        for name in gone:
            os.remove(data / "8" / name)
        return train_loop(state, dataset)

    monkeypatch.setattr(train, "train", delete_then_train)
    train.main([str(data), *RECIPE, "--iters", "14", "--workers", "2", *folders(tmp_path)])
    warnings = [line for line in capfd.readouterr().err.splitlines()
                if line.startswith("warning: skipping unreadable image")]
    warned = [name for name in gone if any(name in line for line in warnings)]
    assert warned and len(warned) == len(warnings)  # each met file named once
    log = [json.loads(line) for line in open(tmp_path / "checkpoint" / "log.jsonl")]
    assert log[-1]["skipped_images"] == len(warned) and log[-1]["iteration"] == 14


def test_a_stop_signal_does_not_break_a_system_call_in_cpp_code():
    """A signal that comes while C++ code waits in a system call (Jittor waiting for its cache
    lock) must not make that call fail: Jittor does not retry it and ends the process."""
    import ctypes
    import threading

    libc = ctypes.CDLL(None, use_errno=True)
    read_end, write_end = os.pipe()
    main = threading.main_thread().ident

    def signal_then_write():
        time.sleep(0.3)
        signal.pthread_kill(main, signal.SIGTERM)  # to the thread blocked in read()
        time.sleep(0.3)
        os.write(write_end, b"x")

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    helper = threading.Thread(target=signal_then_write)
    try:
        with training.signals.StopSignals() as stop:
            helper.start()
            buffer = ctypes.create_string_buffer(1)
            count = libc.read(read_end, buffer, 1)
            error = ctypes.get_errno()
        assert (count, buffer.raw) == (1, b"x"), os.strerror(error)
        assert stop.signum == signal.SIGTERM  # and the stop request still arrived
    finally:
        helper.join()
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        os.close(read_end)
        os.close(write_end)
