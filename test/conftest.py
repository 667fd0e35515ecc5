import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
sys.path.insert(0, ROOT)

from runtime import jt, select_device  # noqa: E402
from training.randomness import seed_everything  # noqa: E402
import convolution  # noqa: E402
from imaging import resizing  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--device", default="cpu", choices=("cpu", "cuda"),
                     help="run the suite on this device (default cpu; CI is CPU-only)")


def pytest_configure(config):
    device = config.getoption("device")
    # the scripts that CLI tests start in child processes follow the same device
    os.environ["STYLEGAN_DEVICE"] = device
    select_device(device)

# a narrow model: every code path of the full one, at a fraction of the cost
NARROW = dict(code_dim=16, n_mlp=2, width=16)


@pytest.fixture(autouse=True)
def seeded():
    seed_everything(0)
    convolution.set_precision("float32")  # a TrainingState may have chosen bfloat16


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """The demo digits at 8, 16 and 32 px: 64 of them (read-only: copy before changing)."""
    import resize

    root = str(tmp_path_factory.mktemp("data") / "demo")
    resizing.build_demo(root, count=64, progress=False)
    resizing.resize_folder(os.path.join(root, "32"), min_size=8, workers=1, progress=False)
    return root


def trained_looking_generator():
    """A narrow generator whose noise strengths are 1 (they start at 0; a trained model has
    them), and its state as numpy arrays."""
    from formats.checkpoints import to_numpy_tree
    from model import StyledGenerator

    g = StyledGenerator(**NARROW)
    for name, var in g.state_dict().items():
        if ".noise" in name:
            var.update(jt.ones(var.shape))
    return g, to_numpy_tree(g.state_dict())


def data_path(name):
    return os.path.join(DATA, name)


def randn(*shape, seed=0):
    return jt.array(np.random.RandomState(seed).randn(*shape).astype(np.float32))


def rerun_tolerance():
    """How far two runs of one computation may differ: not at all on the CPU. On CUDA two
    identical full-width models gave unequal outputs (the run's tracebacks were cut off; our
    reading: partial sums added in no fixed order), so a small tolerance there."""
    return 1e-4 if jt.flags.use_cuda else 0.0


def max_diff(a, b):
    a = a.numpy() if isinstance(a, jt.Var) else np.asarray(a)
    b = b.numpy() if isinstance(b, jt.Var) else np.asarray(b)
    return float(np.abs(a - b).max())
