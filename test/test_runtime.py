import os
import re
import subprocess
import sys

import pytest

import runtime
from conftest import ROOT
import train


def filtered(stream_bytes):
    """What the user sees of bytes Jittor's C++ side writes to file descriptor 2."""
    return subprocess.run([sys.executable, "-c", runtime._STDERR_FILTER], input=stream_bytes,
                          capture_output=True, check=True).stdout


def test_compile_meters_become_one_line_and_the_rest_passes():
    burst = (b"\nCompiling Operators(7/171) used: 3.32s eta: 77.8s "
             b"\rCompiling Operators(171/171) used: 81.6s eta:    0s \r\n")
    said = filtered(b"first line\n" + burst + b"\nan error from C++\nno newline at the end")
    assert said == (b"first line\n(jittor compiled 171 operators in 81.6s, cached for next time)\n"
                    b"\nan error from C++\nno newline at the end")
    assert filtered(b"plain\n\n\nlines\n") == b"plain\n\n\nlines\n"


def test_train_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--help"])
    text = re.sub(r"\s+", " ", capsys.readouterr().out)
    for option, default in (("--phase", "600000"), ("--batch", "32"), ("--width", "512"),
                            ("--code_dim", "512"), ("--iters", "3000000"),
                            ("--sample_every", "100"), ("--colour", "auto")):
        assert re.search(re.escape(option) + r" \S+ .*?\(default: " + default + r"\)", text), option


@pytest.mark.parametrize("fails", [False, True])
def test_first_import_chatter_is_kept_back_unless_the_import_fails(tmp_path, fails):
    """A stand-in jittor that prints as the real one's first-time set-up does (Python prints
    and a child process writing to fd 1)."""
    (tmp_path / "jittor.py").write_text(
        "import os\nprint('Using offline jittor x.tgz', flush=True)\n"
        "os.system('echo Example passed on CPU.')\n"
        + ("raise ImportError('no compiler')\n" if fails else ""))
    script = ("import sys; sys.path[:0] = [%r, %r]; import runtime; print('after import')"
              % (str(tmp_path), ROOT))
    # the stand-in is a CPU Jittor: a CUDA start (on a GPU machine) words its failure otherwise
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=dict(os.environ, STYLEGAN_DEVICE="cpu"))
    if fails:
        assert result.returncode != 0 and "ImportError: no compiler" in result.stderr
        assert "Using offline jittor" in result.stderr and "Example passed" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout == "after import\n"
        assert "Using offline" not in result.stderr and "Example" not in result.stderr


@pytest.mark.parametrize("given, seen", [({}, "3000 None"), ({"GOMP_SPINCOUNT": "50"}, "50 None"),
                                         ({"OMP_WAIT_POLICY": "ACTIVE"}, "None ACTIVE")])
def test_openmp_spin_is_short_unless_the_user_chose(tmp_path, given, seen):
    """GNU OpenMP reads its settings when Jittor's libraries load: a stand-in jittor reports
    what it would see."""
    (tmp_path / "jittor.py").write_text(
        "import os\nprint(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'),"
        " file=__import__('sys').stderr)\n")
    script = "import sys; sys.path[:0] = [%r, %r]; import runtime" % (str(tmp_path), ROOT)
    env = {key: value for key, value in os.environ.items()
           if key not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**env, **given, "STYLEGAN_DEVICE": "cpu"})
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == seen
