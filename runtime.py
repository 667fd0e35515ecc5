"""The one place that prepares the process before Jittor is imported.

Every script and module imports this first (`from runtime import jt`). It keeps the
Jittor import offline (no CUDA helper downloads, no nvcc probing on machines whose
nvcc has no driver behind it), keeps oneDNN on for CPU convolutions, quiets
Jittor's compile logs unless `--verbose` is given, and offers the device switch,
the seeding helper and the one-line error handling every CLI shares.
"""
import ctypes
import os
import random
import sys
import threading


class UsageError(Exception):
    """A problem the user can fix (bad file, bad argument): printed as one line."""


def cuda_device_count():
    """GPUs the CUDA driver reports, asked without importing Jittor (0 if no driver)."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
        if driver.cuInit(0) != 0:
            return 0
        count = ctypes.c_int(0)
        if driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    except (OSError, AttributeError):
        return 0


def _prepare_environment():
    verbose = "--verbose" in sys.argv[1:] or os.environ.get("STYLEGAN_VERBOSE") == "1"
    if cuda_device_count() == 0:
        # an nvcc without a usable driver makes the Jittor import fail
        os.environ["nvcc_path"] = ""
    for flag in ("use_cutt", "use_cutlass", "use_nccl"):
        # these would download their sources on a CUDA import
        os.environ.setdefault(flag, "0")
    if not verbose:
        os.environ.setdefault("log_silent", "1")


def _announce_slow_import():
    print("Jittor is compiling its core (once per installation, about 4 minutes on 2 cores; "
          "cached in ~/.cache/jittor) ...", file=sys.stderr, flush=True)


_prepare_environment()
_slow_import = threading.Timer(10, _announce_slow_import)  # only a first import takes this long
_slow_import.daemon = True
_slow_import.start()
import jittor as jt  # noqa: E402  (must follow the environment set-up above)

_slow_import.cancel()

_device_announced = False


def select_device(device="auto"):
    """Use CUDA for `auto` when Jittor has it, else the CPU; print one line saying which."""
    global _device_announced
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device {device}: choose auto, cpu or cuda")
    if device == "cuda" and not jt.has_cuda:
        raise UsageError("--device cuda: no usable CUDA GPU on this machine; use --device cpu")
    use_cuda = jt.has_cuda and device != "cpu"
    jt.flags.use_cuda = int(use_cuda)
    if not _device_announced and jt.rank == 0:
        name = "cuda" if use_cuda else "cpu"
        ranks = f", {jt.world_size} MPI ranks" if jt.in_mpi else ""
        print(f"device: {name}{ranks}", file=sys.stderr, flush=True)
        _device_announced = True
    return "cuda" if use_cuda else "cpu"


def seed_everything(seed):
    """Seed Python, NumPy and Jittor (each MPI rank gets its own stream)."""
    import numpy as np

    seed = int(seed) + 2591 * jt.rank
    random.seed(seed)
    np.random.seed(seed % 2**32)
    jt.set_seed(seed)


def add_runtime_args(parser):
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="where to run (default: auto = CUDA if usable, else CPU)")
    parser.add_argument("--verbose", action="store_true", help="show Jittor's compile logs")


def run_cli(main, argv=None):
    """Run a script's main; user errors become one line on stderr and exit status 2."""
    try:
        return main(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
