"""The one place that prepares the process before Jittor is imported.

Every script and module imports this first (`from runtime import jt`). It keeps the Jittor
import offline (no CUDA helper downloads, no nvcc probing on machines whose nvcc has no
driver behind it), chooses CUDA or the CPU before Jittor builds anything (with the toolkit
that `cuda13/` prepares), keeps oneDNN on for CPU convolutions and lets it use AMX where the
CPU has it, and quiets Jittor's compile logs unless `--verbose` is given. `select_device`
then applies the script's --device.
"""
import atexit
import ctypes
import os
import sys
import threading

import cuda13
from cli import UsageError

CUDA_CACHE_NAME = "cuda"  # Jittor's cache folder for CUDA builds


def _device_on_command_line():
    arguments = sys.argv[1:]
    for index, argument in enumerate(arguments):
        if argument == "--device" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--device="):
            return argument.split("=", 1)[1]
    return os.environ.get("STYLEGAN_DEVICE", "auto")


def _choose_cuda():
    """Set $nvcc_path for Jittor's import: a prepared toolkit, or "" (CUDA off). Returns
    (one line on the CUDA set-up or None, why CUDA is off or None)."""
    compile_check = os.environ.get("STYLEGAN_CUDA_COMPILE_CHECK") == "1"
    gpus = cuda13.cuda_device_count()
    try:
        if _device_on_command_line() == "cpu" and not compile_check:
            raise cuda13.CudaUnavailable("--device cpu was given")
        if gpus == 0 and not compile_check:
            # an nvcc without a driver behind it makes the Jittor import fail
            raise cuda13.CudaUnavailable("no NVIDIA driver or GPU found (libcuda.so.1 reports none)")
        nvcc = cuda13.find_nvcc()
        if nvcc is None:
            raise cuda13.CudaUnavailable("a GPU but no CUDA toolkit: nvcc is not on PATH nor in "
                                  "/usr/local/cuda; install one or set nvcc_path")
        nvcc, summary = cuda13.prepare_cuda(nvcc)
    except cuda13.CudaUnavailable as reason:
        os.environ["nvcc_path"] = ""
        if os.environ.get("cache_name") == CUDA_CACHE_NAME:
            # inherited from a parent on CUDA (a test, a launcher): building the CPU core
            # there would overwrite the CUDA core (seen on a GPU: the next CUDA start failed)
            del os.environ["cache_name"]
        return None, str(reason)
    os.environ["nvcc_path"] = nvcc
    # Jittor puts a CUDA build below its CPU build's folder and searches the CPU one first, so
    # after one CPU run the CUDA start would load the CPU core: give CUDA its own folder
    os.environ.setdefault("cache_name", CUDA_CACHE_NAME)
    if gpus == 0:  # the compile check: build everything, run nothing
        return summary, "built for CUDA as a compile check; no GPU to run on"
    return summary, None


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _enable_amx():
    """Let oneDNN use the CPU's AMX tile unit for bfloat16 convolutions, where there is one.
    Linux hands out the tile registers only to processes that ask (arch_prctl), and oneDNN 2.2
    does not ask, so without this its AMX kernels die of SIGILL; it also keeps AMX behind
    DNNL_MAX_CPU_ISA. Float32 work is unchanged (AMX has no float32)."""
    if "amx_bf16" not in _cpu_flags() or os.environ.get("STYLEGAN_AMX") == "0":
        return False
    arch_prctl, request_permission, tile_data = 158, 0x1023, 18
    try:
        if ctypes.CDLL(None, use_errno=True).syscall(arch_prctl, request_permission,
                                                    tile_data) != 0:
            return False
    except (OSError, AttributeError):
        return False
    os.environ.setdefault("DNNL_MAX_CPU_ISA", "AVX512_CORE_AMX")
    return True


def _prepare_environment():
    global cuda_setup, cuda_off_because, amx_ready
    verbose = "--verbose" in sys.argv[1:] or os.environ.get("STYLEGAN_VERBOSE") == "1"
    cuda_setup, cuda_off_because = _choose_cuda()
    amx_ready = _enable_amx()
    if "OMP_WAIT_POLICY" not in os.environ:
        # Jittor's CPU kernels and oneDNN run on GNU OpenMP, whose idle threads spin 300,000
        # times before sleeping: two processes on the same cores then spend them spinning
        # (measured: two demo-style jobs each fell to 2-28% of their speed alone). 3,000
        # spins still bridge the gaps between one iteration's kernels (no loss alone), and
        # each of two jobs keeps 36-50% (docs/speed.md, `benchmark.py concurrent`).
        os.environ.setdefault("GOMP_SPINCOUNT", "3000")
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
    what = "core and CUDA library wrappers" if cuda_setup else "core"
    stream.write(f"Jittor is compiling its {what} (once per installation, about 4 minutes on 2 "
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
try:
    jt = _import_jittor(_verbose)
except Exception:
    if cuda_setup is None or not _running_our_script():
        raise
    print(f"error: Jittor could not build its CUDA parts ({cuda_setup}); the lines above say "
          f"where; run with --device cpu, or --verbose to see the whole build",
          file=sys.stderr)
    sys.exit(2)

_device_announced = False


def select_device(device="auto"):
    """Use CUDA for `auto` when Jittor has it, else the CPU; print one line saying which."""
    global _device_announced
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device {device}: choose auto, cpu or cuda")
    usable = bool(jt.has_cuda) and cuda_off_because is None
    if device == "cuda" and not usable:
        raise UsageError(f"--device cuda: CUDA cannot be used here: "
                         f"{cuda_off_because or 'Jittor found no CUDA'}; use --device cpu")
    use_cuda = usable and device != "cpu"
    jt.flags.use_cuda = int(use_cuda)
    if not _device_announced and jt.rank == 0:
        name = f"cuda ({cuda_setup})" if use_cuda else "cpu"
        ranks = f", {jt.world_size} MPI ranks" if jt.in_mpi else ""
        print(f"device: {name}{ranks}", file=sys.stderr, flush=True)
        _device_announced = True
    return "cuda" if use_cuda else "cpu"
