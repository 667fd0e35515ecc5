"""benchmark.py's side-by-side with a PyTorch peer: the plumbing, with stand-in peers."""
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
