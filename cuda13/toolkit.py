"""The CUDA toolkit behind an nvcc, and the GPUs the driver reports (no Jittor needed)."""
import ctypes
import os

ROOT_MARKER = "stylegan-cuda-root.txt"  # in a prepared folder: the real toolkit's root


class CudaUnavailable(Exception):
    """Why CUDA cannot be used here, in words a user can act on."""


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
    marked = os.path.join(os.path.dirname(os.path.dirname(nvcc)), ROOT_MARKER)
    if os.path.isfile(marked):  # our own prepared folder: go back to the real toolkit
        with open(marked) as marker:
            return marker.readline().strip(), (int(release[1]), int(release[2]))
    top = re.search(r"TOP=(\S+)", ask("-dryrun", "-E", "-x", "cu", os.devnull))
    root = os.path.realpath(top[1]) if top else os.path.dirname(
        os.path.dirname(os.path.realpath(nvcc)))
    return root, (int(release[1]), int(release[2]))
