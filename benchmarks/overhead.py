"""The host cost of one training iteration: where the arithmetic is small (8 px, batch 2, full
width, float32), an iteration's time is mostly the framework's own work. Ours is split into
building the graph in Python, Jittor's executor (fusing, scheduling, allocating) and the
kernels, with how many Jittor operators one iteration creates; rosinality's PyTorch step runs
beside it in its own process."""
import contextlib
import os
import re
import time

import numpy as np


@contextlib.contextmanager
def timed_syncs():
    """Time spent inside jt.sync / jt.sync_all (the executor and the kernels), the rest of
    the wall time being Python building the graph. The optimizers and the EMA sync through
    jt.sync, so patching the module's function catches them."""
    import jittor

    spent = {"seconds": 0.0, "calls": 0}
    originals = jittor.sync, jittor.sync_all

    def wrap(function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent["seconds"] += time.perf_counter() - started
                spent["calls"] += 1
        return timed

    jittor.sync, jittor.sync_all = wrap(originals[0]), wrap(originals[1])
    try:
        yield spent
    finally:
        jittor.sync, jittor.sync_all = originals


def profile_summary(report):
    """(kernels run, operators they fused, kernel seconds) from a jt.profile_scope report:
    each row is one fused kernel; its name lists one `opkey` per operator it holds."""
    header, rows = report[0], report[1:]
    name, count, total = (header.index(key) for key in ("Name", "Count", "TotalTime"))
    kernels = sum(int(row[count]) for row in rows)
    operators = sum(int(row[count]) * max(1, len(re.findall(r"opkey\d+:", row[name])))
                    for row in rows)
    seconds = sum(float(row[total]) for row in rows) / 1e9
    return kernels, operators, seconds


def our_iteration(size, batch, width, code_dim, loss="r1", penalty_every=1):
    """A callable running one full iteration of train.py (D with R1, G with mixing, EMA and
    w_avg) on fixed real images."""
    from runtime import jt
    from model import step_of_size
    from training.options import default_training_args
    from training.randomness import seed_everything
    from training.schedule import Plan
    from training.state import TrainingState
    from training.steps import training_step

    seed_everything(0)
    state = TrainingState(default_training_args(
        width=width, code_dim=code_dim, batch=batch, loss=loss, precision="float32",
        penalty_every=penalty_every))
    real = jt.array(np.random.RandomState(0).uniform(-1, 1, (batch, 3, size, size))
                    .astype(np.float32)).stop_grad()
    plan = Plan(step_of_size(size), 1.0, batch, 0.001)
    return lambda: training_step(state, real, plan)


def median_times(iteration, iters, warm_up=3):
    """Medians over `iters` runs of (wall seconds, seconds inside syncs), after warm-up runs
    that compile every operator shape."""
    from runtime import jt

    for _ in range(warm_up):
        iteration()
    jt.sync_all(True)
    walls, syncs = [], []
    for _ in range(iters):
        with timed_syncs() as spent:
            started = time.perf_counter()
            iteration()
            jt.sync_all(True)
            walls.append(time.perf_counter() - started)
        syncs.append(spent["seconds"])
    return float(np.median(walls)), float(np.median(syncs))


def measure_ours(iteration, iters):
    """Per-iteration medians: wall, inside syncs; then one profiled pass for the kernels."""
    from runtime import jt

    wall, sync = median_times(iteration, iters)
    with timed_syncs() as profiled, jt.profile_scope() as report:
        iteration()
        jt.sync_all(True)
    kernels, operators, kernel_seconds = profile_summary(report)
    # the profiler slows the kernels it times, so the executor's share is taken from the
    # profiled pass itself: time inside syncs there, less the kernels' own time
    executor_share = max(profiled["seconds"] - kernel_seconds, 0.0) / profiled["seconds"]
    return {"wall": wall, "build": wall - sync, "executor": sync * executor_share,
            "kernels": sync * (1 - executor_share), "kernel_count": kernels,
            "operators": operators}


def bench_overhead(args):
    from benchmarks.peers import run_for_figures
    from runtime import jt, select_device

    select_device("cpu")
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count()))
    ours = measure_ours(our_iteration(args.size, args.batch, args.width, args.code_dim),
                        args.iters)
    print(f"ours: {ours['wall'] * 1e3:.1f} ms per iteration ({args.size} px, batch {args.batch}, "
          f"width {args.width}, float32, {threads} threads): building the graph in Python "
          f"{ours['build'] * 1e3:.1f} ms, Jittor's executor {ours['executor'] * 1e3:.1f} ms, "
          f"kernels {ours['kernels'] * 1e3:.1f} ms; {ours['operators']} operators fused into "
          f"{ours['kernel_count']} kernels", flush=True)
    if args.peer:
        [peer] = run_for_figures([args.python, args.peer], [r"median_iter=([0-9.]+)s"],
                                 {"SIZE": str(args.size), "BATCH": str(args.batch),
                                  "ITERS": str(args.iters), "DEVICE": "cpu",
                                  "OMP_NUM_THREADS": str(threads)})
        if peer is None:
            raise SystemExit(f"error: --peer {args.peer} with --python {args.python} failed "
                             f"(the line above says why)")
        print(f"rosinality (PyTorch, CPU): {peer * 1e3:.1f} ms per iteration; "
              f"ours / theirs = {ours['wall'] / peer:.2f}x the time")
