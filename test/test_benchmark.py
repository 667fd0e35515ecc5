"""benchmark.py's side-by-side with a PyTorch peer: the plumbing, with stand-in peers."""
import json
import re

import benchmark

PEER = """import os, sys
if os.environ["SIZE"] == "16":
    sys.exit("CUDA out of memory")
print(f"peer device={os.environ['DEVICE']} size={os.environ['SIZE']} batch={os.environ['BATCH']}"
      f" img/s={10 * int(os.environ['BATCH']):.1f} peak_mem=1.50GiB")
"""


def test_versus_pytorch_runs_both_per_size_and_reports_failures(tmp_path, capsys):
    peer = tmp_path / "peer_step.py"
    peer.write_text(PEER)
    benchmark.main(["versus_pytorch", "--peer", str(peer), "--sizes", "8", "16", "--batch", "2",
                    "--iters", "1", "--width", "16", "--code_dim", "16", "--device", "cpu"])
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.strip().startswith("8px")).split()
    ours, theirs, ratio = float(row[1]), float(row[2]), row[3]
    # the table rounds img/s to 0.1 and the ratio (of unrounded figures) to 0.01
    assert ours > 0 and theirs == 20.0 and ratio.endswith("x")
    assert abs(float(ratio[:-1]) - ours / theirs) <= 0.005 + 0.05 / theirs + 1e-9
    assert row[4:] == ["1.50", "GiB"]
    assert any("failed: CUDA out of memory" in line for line in lines)
    failed = next(line for line in lines if line.strip().startswith("16px")).split()
    assert failed[2] == "nan" and failed[3] == "-" and failed[4] == "-"


STEP_PEER = """import os
print(f"rosinality-pytorch device={os.environ['DEVICE']} size={os.environ['SIZE']} "
      f"batch={os.environ['BATCH']} median_iter=0.2500s img/s=8.0 peak_mem=nanGiB")
"""


def test_overhead_splits_our_iteration_and_times_the_peer(tmp_path, capsys):
    peer = tmp_path / "step.py"
    peer.write_text(STEP_PEER)
    benchmark.main(["overhead", "--width", "16", "--code_dim", "16", "--iters", "2",
                    "--peer", str(peer)])
    out = capsys.readouterr().out
    ours = re.search(r"ours: ([0-9.]+) ms per iteration .*Python ([0-9.]+) ms, Jittor's executor "
                     r"([0-9.]+) ms, kernels ([0-9.]+) ms; (\d+) operators fused into (\d+) kernels",
                     out)
    wall, build, executor, kernels, operators, count = map(float, ours.groups())
    assert build > 0 and executor >= 0 and kernels > 0 and wall > kernels
    assert operators > count > 100
    ratio = re.search(r"250.0 ms per iteration; ours / theirs = ([0-9.]+)x", out)
    assert abs(float(ratio[1]) - wall / 250) < 0.006


def test_profile_sums_kernel_time_by_kind(tmp_path):
    from benchmarks.kernel_profile import KINDS

    out = tmp_path / "profile.json"
    benchmark.main(["profile", "--size", "8", "--batch", "2", "--width", "16", "--code_dim",
                    "16", "--iters", "1", "--device", "cpu", "--out", str(out)])
    result = json.loads(out.read_text())
    kinds = result["profiled_kernels"]
    assert sorted(kinds) == sorted(KINDS)
    # oneDNN's convolutions, the blur's slices (none on oneDNN), every Adam and EMA update
    assert kinds["convolution library"]["kernels"] > 20
    assert kinds["optimizer"]["kernels"] > 10 and kinds["EMA"]["kernels"] > 10
    assert result["iteration_ms"] > result["building_graph_ms"] > 0
