"""The one place that prepares the process before Jittor is imported.

Every script and module imports this first (`from runtime import jt`). It keeps the
Jittor import offline (no CUDA helper downloads, no nvcc probing on machines whose
nvcc has no driver behind it), keeps oneDNN on for CPU convolutions and lets it use
AMX where the CPU has it, quiets
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


# ---------------------------------------------------------------------------------------
# CUDA: Jittor 1.3.11 knows toolkits up to CUDA 12 with cuDNN 8, all in one folder. For
# anything else (CUDA 13, cuDNN 9, libraries from pip's nvidia-* wheels) we hand Jittor a
# folder that looks like such a toolkit, and fix the few places of its source that no longer
# build or behave. See the README's GPU section.

CUDA_CACHE_NAME = "cuda"  # Jittor cache folder of CUDA builds
CUDA_LIBRARIES = ("cublas", "cudnn", "curand", "cufft", "cusparse")
CUDA_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "stylegan-jittor")
_ROOT_MARKER = "stylegan-cuda-root.txt"
# every parallel CUDA kernel of Jittor includes misc/cuda_limits.h, which includes <npp.h>
# for these eight limits only; toolkits from pip have no NPP
_NPP_LIMITS = """#pragma once
#define NPP_MIN_32U ( 0 )
#define NPP_MAX_32U ( 4294967295U )
#define NPP_MIN_32S (-2147483647 - 1 )
#define NPP_MAX_32S ( 2147483647 )
#define NPP_MIN_64U ( 0 )
#define NPP_MAX_64U ( 18446744073709551615ULL )
#define NPP_MIN_64S (-9223372036854775807LL - 1)
#define NPP_MAX_64S ( 9223372036854775807LL )
"""
# cuDNN 9 dropped the RNN v6/v7 API these Jittor sources use (the model needs no RNN)
_CUDNN_RNN_SOURCES = ("src/cudnn_rnn_descriptor.cc", "inc/cudnn_rnn_descriptor.h",
                      "ops/cudnn_rnn_op.cc", "ops/cudnn_rnn_op.h",
                      "ops/cudnn_rnn_backward_x_op.cc", "ops/cudnn_rnn_backward_x_op.h")
# Jittor loads cuDNN 8's split libraries by name; cuDNN 9 has these in their place
_CUDNN8_NAMES = {"libcudnn_ops_infer.so": "libcudnn_ops.so", "libcudnn_ops_train.so":
                 "libcudnn_ops.so", "libcudnn_cnn_infer.so": "libcudnn_cnn.so",
                 "libcudnn_cnn_train.so": "libcudnn_cnn.so"}


class CudaUnavailable(Exception):
    """Why CUDA cannot be used here, in words a user can act on."""


def find_nvcc():
    """nvcc where Jittor would look: $nvcc_path ("" = CUDA off), PATH, the usual folders."""
    if "nvcc_path" in os.environ:
        return os.environ["nvcc_path"] or None
    import shutil

    for path in (shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc", "/usr/bin/nvcc",
                 "/opt/cuda/bin/nvcc"):
        if path and os.access(path, os.X_OK):
            return path
    return None


def cuda_toolkit(nvcc):
    """(root folder, version tuple) of the toolkit behind `nvcc`, which may be a wrapper
    script elsewhere (Jittor would then look for headers beside the script)."""
    import re
    import subprocess

    def ask(*arguments):
        try:
            done = subprocess.run([nvcc, *arguments], capture_output=True, text=True,
                                  timeout=60)
            return done.stdout + done.stderr
        except (OSError, subprocess.TimeoutExpired) as error:
            raise CudaUnavailable(f"nvcc at {nvcc} does not run ({error})") from None

    release = re.search(r"release (\d+)\.(\d+)", ask("--version"))
    if not release:
        raise CudaUnavailable(f"nvcc at {nvcc} does not say its version")
    marked = os.path.join(os.path.dirname(os.path.dirname(nvcc)), _ROOT_MARKER)
    if os.path.isfile(marked):  # our own prepared folder: go back to the real toolkit
        with open(marked) as marker:
            return marker.readline().strip(), (int(release[1]), int(release[2]))
    top = re.search(r"TOP=(\S+)", ask("-dryrun", "-E", "-x", "cu", os.devnull))
    root = os.path.realpath(top[1]) if top else os.path.dirname(
        os.path.dirname(os.path.realpath(nvcc)))
    return root, (int(release[1]), int(release[2]))


SYSTEM_HEADERS = ("/usr/include",)
SYSTEM_LIBRARIES = ("/usr/lib/x86_64-linux-gnu", "/usr/lib")


def python_sites():
    return list(sys.path)


def _library_folders(toolkit_root, major):
    """(header folders, library folders) to search: the toolkit's, the system's, then the
    nvidia-* pip packages on sys.path and in $STYLEGAN_CUDA_LIBS (folders holding nvidia/),
    those built for this CUDA major version first."""
    import glob

    arch = "targets/x86_64-linux"
    headers = [f"{toolkit_root}/include", f"{toolkit_root}/{arch}/include", *SYSTEM_HEADERS]
    libraries = [f"{toolkit_root}/lib64", f"{toolkit_root}/{arch}/lib", *SYSTEM_LIBRARIES]
    sites = os.environ.get("STYLEGAN_CUDA_LIBS", "").split(":") + python_sites()
    sites = [os.path.abspath(site) for site in sites if site]
    packages = []
    for site in sites:
        packages += sorted(glob.glob(os.path.join(site, "nvidia", "*")),
                           key=lambda p: os.path.basename(p) != f"cu{major}")
    headers += [os.path.join(p, "include") for p in packages]
    libraries += [os.path.join(p, "lib") for p in packages]
    return headers, libraries


def _cudnn_major(header_folder):
    import re

    for name in ("cudnn_version.h", "cudnn.h"):
        try:
            with open(os.path.join(header_folder, name)) as header:
                found = re.search(r"#define CUDNN_MAJOR\s+(\d+)", header.read())
        except OSError:
            continue
        if found:
            return int(found[1])
    return 0


def find_cuda_libraries(toolkit_root, major):
    """{library: (header folder, library folder)} for each of CUDA_LIBRARIES, or
    CudaUnavailable naming the ones missing and where to get them."""
    import glob

    headers, libraries = _library_folders(toolkit_root, major)
    found, missing = {}, []
    for name in CUDA_LIBRARIES:
        header = next((h for h in headers if os.path.isfile(f"{h}/{name}.h")), None)
        library = next((f for f in libraries if glob.glob(f"{f}/lib{name}.so*")), None)
        if header and library:
            found[name] = (header, library)
        else:
            missing.append(name)
    if missing:
        wheels = " ".join(("nvidia-cudnn-cu13" if n == "cudnn" else f"nvidia-{n}")
                          if major >= 13 else f"nvidia-{n}-cu{major}" for n in missing)
        raise CudaUnavailable(
            f"CUDA {major} toolkit at {toolkit_root} but no {', '.join(missing)}: install them "
            f"(pip install {wheels}) or name a folder holding their nvidia/ package in "
            f"STYLEGAN_CUDA_LIBS")
    return found


def build_cuda_root(toolkit_root, libraries, destination):
    """A folder laid out as Jittor expects a toolkit: bin/nvcc (a script, since Jittor
    resolves links), include/ and lib64/ joining the toolkit and the libraries' folders,
    unversioned and cuDNN 8 library names, an npp.h stand-in. Built under a temporary name
    and renamed, so processes starting together never see half of it."""
    import tempfile

    if os.path.isfile(os.path.join(destination, _ROOT_MARKER)):
        return destination
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    building = tempfile.mkdtemp(prefix=".building-", dir=os.path.dirname(destination))
    for folder in ("bin", "include", "lib64"):
        os.makedirs(os.path.join(building, folder))
    with open(os.path.join(building, "bin", "nvcc"), "w") as script:
        script.write(f'#!/bin/sh\nexec "{toolkit_root}/bin/nvcc" "$@"\n')
    os.chmod(os.path.join(building, "bin", "nvcc"), 0o755)
    header_folders = [f"{toolkit_root}/include"] + [h for h, _ in libraries.values()]
    library_folders = [f"{toolkit_root}/lib64"] + [f for _, f in libraries.values()]
    for kind, folders in (("include", header_folders), ("lib64", library_folders)):
        for folder in dict.fromkeys(folders):
            for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
                link = os.path.join(building, kind, name)
                if not os.path.lexists(link):
                    os.symlink(os.path.realpath(os.path.join(folder, name)), link)
    include = os.path.join(building, "include")
    if os.path.isdir(f"{toolkit_root}/include/cccl/nv") and not os.path.lexists(f"{include}/nv"):
        os.symlink(f"{toolkit_root}/include/cccl/nv", f"{include}/nv")  # moved there in CUDA 13
    if not os.path.lexists(f"{include}/npp.h"):
        with open(f"{include}/npp.h", "w") as stand_in:
            stand_in.write(_NPP_LIMITS)
    lib64 = os.path.join(building, "lib64")
    for name in sorted(os.listdir(lib64)):
        if ".so." in name:
            unversioned = os.path.join(lib64, name.split(".so.")[0] + ".so")
            if not os.path.lexists(unversioned):
                os.symlink(os.path.realpath(os.path.join(lib64, name)), unversioned)
    for old, new in _CUDNN8_NAMES.items():
        if os.path.lexists(f"{lib64}/{new}") and not os.path.lexists(f"{lib64}/{old}"):
            os.symlink(os.path.realpath(f"{lib64}/{new}"), f"{lib64}/{old}")
    with open(os.path.join(building, _ROOT_MARKER), "w") as marker:
        marker.write(toolkit_root + "\n")
    try:
        os.rename(building, destination)
    except OSError:  # another process got there first
        import shutil

        shutil.rmtree(building, ignore_errors=True)
    return destination


# (file under jittor/, text, replacement): what CUDA 13 changed under Jittor 1.3.11
_CUDA13_SOURCE_FIXES = (
    # fields removed from cudaDeviceProp
    ("extern/cuda/inc/helper_cuda.h", "deviceProp.computeMode", "cudaComputeModeDefault"),
    ("extern/cuda/inc/helper_cuda.h", "deviceProp.clockRate", "1"),
    # a failing cudaGetDeviceCount no longer writes 0: the count stayed -1, "one device"
    ("src/misc/cuda_flags.cc", "        cudaGetDeviceCount(&count);",
     "        if (cudaGetDeviceCount(&count) != cudaSuccess) count = 0;"),
)


def patch_jittor_sources(jittor_folder, cuda_major, cudnn_major):
    """Fix what CUDA 13 and cuDNN 9 removed from under Jittor 1.3.11's sources, in place and
    only as far as this toolkit needs; a second call changes nothing. Returns what changed."""
    changed = []
    try:
        for name, text, replacement in _CUDA13_SOURCE_FIXES if cuda_major >= 13 else ():
            path = os.path.join(jittor_folder, name)
            if not os.path.isfile(path):
                continue
            with open(path) as source:
                before = source.read()
            if text in before:
                with open(path + ".tmp", "w") as source:
                    source.write(before.replace(text, replacement))
                os.replace(path + ".tmp", path)
                if os.path.basename(name) not in changed:
                    changed.append(os.path.basename(name))
        cudnn = os.path.join(jittor_folder, "extern", "cuda", "cudnn")
        aside = os.path.join(jittor_folder, "extern", "cuda", "cudnn_rnn_set_aside")
        rnn = [name for name in _CUDNN_RNN_SOURCES if os.path.isfile(os.path.join(cudnn, name))]
        if cudnn_major >= 9 and rnn:
            for name in rnn:
                os.makedirs(os.path.dirname(os.path.join(aside, name)), exist_ok=True)
                os.replace(os.path.join(cudnn, name), os.path.join(aside, name))
            changed.append("cuDNN RNN sources set aside")
    except OSError as error:
        raise CudaUnavailable(f"cannot fix Jittor's CUDA sources in {jittor_folder} "
                              f"({error.strerror or error}); install Jittor where you can "
                              f"write, or use --device cpu") from None
    return changed


def prepare_cuda(nvcc, jittor_folder=None, cache=CUDA_CACHE):
    """Make Jittor's import build against the toolkit behind `nvcc`; returns (the nvcc
    Jittor should use, one line saying what was done)."""
    import hashlib
    import importlib.util

    root, version = cuda_toolkit(nvcc)
    libraries = find_cuda_libraries(root, version[0])
    cudnn_major = _cudnn_major(libraries["cudnn"][0])
    if jittor_folder is None:
        jittor_folder = importlib.util.find_spec("jittor").submodule_search_locations[0]
    changed = patch_jittor_sources(jittor_folder, version[0], cudnn_major)
    in_toolkit = all(os.path.realpath(f).startswith(os.path.realpath(root))
                     for _, f in libraries.values())
    plain = (version[0] <= 12 and cudnn_major <= 8 and in_toolkit
             and os.path.isfile(f"{root}/include/npp.h")
             and os.path.realpath(nvcc) == os.path.realpath(f"{root}/bin/nvcc"))
    summary = f"CUDA {version[0]}.{version[1]} at {root}, cuDNN {cudnn_major}"
    if plain:  # a toolkit Jittor supports as it is
        return nvcc, summary
    key = hashlib.sha1(repr((root, sorted(libraries.items()))).encode()).hexdigest()[:10]
    prepared = build_cuda_root(root, libraries, os.path.join(
        cache, f"cuda{version[0]}.{version[1]}-{key}"))
    summary += f"; Jittor sees {prepared}"
    if changed:
        summary += f"; fixed for this toolkit: {', '.join(changed)}"
    return os.path.join(prepared, "bin", "nvcc"), summary


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
    gpus = cuda_device_count()
    try:
        if _device_on_command_line() == "cpu" and not compile_check:
            raise CudaUnavailable("--device cpu was given")
        if gpus == 0 and not compile_check:
            # an nvcc without a driver behind it makes the Jittor import fail
            raise CudaUnavailable("no NVIDIA driver or GPU found (libcuda.so.1 reports none)")
        nvcc = find_nvcc()
        if nvcc is None:
            raise CudaUnavailable("a GPU but no CUDA toolkit: nvcc is not on PATH nor in "
                                  "/usr/local/cuda; install one or set nvcc_path")
        nvcc, summary = prepare_cuda(nvcc)
    except CudaUnavailable as reason:
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


def seed_everything(seed):
    """Seed Python, NumPy and Jittor (each MPI rank gets its own stream)."""
    import numpy as np

    seed = int(seed) + 2591 * jt.rank
    random.seed(seed)
    np.random.seed(seed % 2**32)
    jt.set_seed(seed)


def progress_interval():
    """Seconds between progress-bar redraws: tqdm's 0.1 on a terminal; once a minute when the
    output goes to a file, where every redraw is kept and a long run's log would grow by
    megabytes a day."""
    return 0.1 if sys.stderr.isatty() else 60


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
