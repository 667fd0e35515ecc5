"""The one place that prepares the process before Jittor is imported.

Every script and module imports this first (`from runtime import jt`). It keeps the
Jittor import offline (no CUDA helper downloads, no nvcc probing on machines whose
nvcc has no driver behind it), keeps oneDNN on for CPU convolutions, quiets
Jittor's compile logs unless `--verbose` is given, and offers the device switch,
the seeding helper and the one-line error handling every CLI shares.
"""
import atexit
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
    return verbose


def _running_our_script():
    """True when the main program is one of this project's scripts (not pytest or a REPL):
    only then is the process's stderr ours to rearrange."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.dirname(os.path.abspath(main_file)) == here


# Runs in a child process that owns the real stderr. Jittor's C++ core writes a
# "Compiling Operators(i/n)" meter straight to file descriptor 2 whenever compiling takes
# over 2 s; each burst of meters becomes one line, everything else passes unchanged.
_STDERR_FILTER = r"""
import os, re, signal
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the trainer; keep its last words
meter = re.compile(rb"Compiling Operators\((\d+)/(\d+)\) used: *([0-9.e+]+)s")
held, blank_lines = b"", 0
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    *lines, held = (held + chunk).split(b"\n")
    for line in lines:
        burst = meter.findall(line)
        if burst:
            count, seconds = burst[-1][1], burst[-1][2]
            os.write(1, b"(jittor compiled %s operators in %ss, cached for next time)\n"
                     % (count, seconds))
            blank_lines = 0  # Jittor opens each burst with an empty line
        elif not line.strip():
            blank_lines += 1
        else:
            os.write(1, b"\n" * blank_lines + line + b"\n")
            blank_lines = 0
if held:
    os.write(1, held)
"""


def _filter_cpp_stderr():
    """Python keeps writing to the terminal (sys.stderr moves to a copy of fd 2, so tqdm and
    tracebacks are untouched); fd 2, where only C++ and child processes write, goes through
    the filter."""
    import subprocess

    try:
        terminal = os.dup(2)
    except OSError:  # no stderr at all
        return
    try:
        filter_process = subprocess.Popen([sys.executable, "-c", _STDERR_FILTER],
                                          stdin=subprocess.PIPE, stdout=terminal)
    except OSError:  # no filter, then: Jittor's meters show as they are
        os.close(terminal)
        return
    sys.stderr.flush()
    sys.stderr = os.fdopen(terminal, "w", buffering=1, errors="backslashreplace")
    os.dup2(filter_process.stdin.fileno(), 2)
    filter_process.stdin.close()

    def let_filter_finish():  # so its last lines come before the shell prompt
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        try:
            filter_process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass

    atexit.register(let_filter_finish)


def _announce_slow_import(stream):
    stream.write("Jittor is compiling its core (once per installation, about 4 minutes on 2 "
                 "cores; cached in ~/.cache/jittor) ...\n")
    stream.flush()


def _import_jittor(verbose):
    """Import Jittor; without --verbose, what its first-time set-up prints on stdout (the
    oneDNN download/test chatter) is kept back and shown only if the import fails."""
    if verbose:
        import jittor
        return jittor
    import tempfile

    slow_import = threading.Timer(10, _announce_slow_import, [sys.stderr])
    slow_import.daemon = True  # only a first import takes this long
    sys.stdout.flush()
    saved_stdout = os.dup(1)
    with tempfile.TemporaryFile() as chatter:
        os.dup2(chatter.fileno(), 1)
        slow_import.start()
        try:
            import jittor
        except BaseException:
            chatter.seek(0)
            sys.stderr.write(chatter.read().decode(errors="replace"))
            raise
        finally:
            slow_import.cancel()
            os.dup2(saved_stdout, 1)
            os.close(saved_stdout)
    return jittor


_verbose = _prepare_environment()
if not _verbose and _running_our_script():
    _filter_cpp_stderr()
jt = _import_jittor(_verbose)

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


def rank_share(batch):
    """This MPI rank's samples of a global batch: every world_size-th one, from its rank.
    Drawing random inputs for the global batch and taking shares makes a run with N ranks
    see the samples and latents of a run with one."""
    return batch[jt.rank::jt.world_size] if jt.world_size > 1 else batch


def add_runtime_args(parser):
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="where to run; auto = CUDA if usable, else the CPU")
    parser.add_argument("--verbose", action="store_true", help="show Jittor's compile logs")


def writable_folder(path, argument):
    """Create `path` if needed and prove a file can be written in it, before any work is
    done; otherwise a UsageError naming the argument."""
    import tempfile

    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise UsageError(f"{argument} {path}: cannot write there "
                         f"({error.strerror or error}); choose another folder") from None
    return path


def run_cli(main, argv=None):
    """Run a script's main; user errors become one line on stderr and exit status 2."""
    from images import WriteFailed

    try:
        return main(argv)
    except (UsageError, WriteFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
