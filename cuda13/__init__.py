"""CUDA 13 and cuDNN 9 for Jittor 1.3.11, which knows toolkits up to CUDA 12 with cuDNN 8,
all in one folder.

For anything else (CUDA 13, cuDNN 9, libraries from pip's nvidia-* wheels) Jittor is handed
a folder that looks like such a toolkit (`prepared_root`), and the few places of its source
that no longer build are fixed (`jittor_fixes`). `python -m cuda13.compile_check` builds
Jittor's CUDA parts this way without a GPU. Nothing here imports Jittor or the rest of the
project: once Jittor supports CUDA 13 as it is, this package can be deleted in one piece
(runtime.py then hands Jittor the toolkit's own nvcc).
"""
import hashlib
import importlib.util
import os

from cuda13.jittor_fixes import patch_jittor_sources
from cuda13.libraries import cudnn_major, find_cuda_libraries
from cuda13.prepared_root import build_cuda_root
from cuda13.toolkit import CudaUnavailable, cuda_device_count, cuda_toolkit, find_nvcc

CACHE = os.path.join(os.path.expanduser("~"), ".cache", "stylegan-jittor")

__all__ = ["CACHE", "CudaUnavailable", "cuda_device_count", "find_nvcc", "prepare_cuda"]


def prepare_cuda(nvcc, jittor_folder=None, cache=CACHE):
    """Make Jittor's import build against the toolkit behind `nvcc`; returns (the nvcc
    Jittor should use, one line saying what was done)."""
    root, version = cuda_toolkit(nvcc)
    libraries = find_cuda_libraries(root, version[0])
    cudnn = cudnn_major(libraries["cudnn"][0])
    if jittor_folder is None:
        jittor_folder = importlib.util.find_spec("jittor").submodule_search_locations[0]
    changed = patch_jittor_sources(jittor_folder, version[0], cudnn)
    in_toolkit = all(os.path.realpath(f).startswith(os.path.realpath(root))
                     for _, f in libraries.values())
    plain = (version[0] <= 12 and cudnn <= 8 and in_toolkit
             and os.path.isfile(f"{root}/include/npp.h")
             and os.path.realpath(nvcc) == os.path.realpath(f"{root}/bin/nvcc"))
    summary = f"CUDA {version[0]}.{version[1]} at {root}, cuDNN {cudnn}"
    if plain:  # a toolkit Jittor supports as it is
        return nvcc, summary
    key = hashlib.sha1(repr((root, sorted(libraries.items()))).encode()).hexdigest()[:10]
    prepared = build_cuda_root(root, libraries, os.path.join(
        cache, f"cuda{version[0]}.{version[1]}-{key}"))
    summary += f"; Jittor sees {prepared}"
    if changed:
        summary += f"; fixed for this toolkit: {', '.join(changed)}"
    return os.path.join(prepared, "bin", "nvcc"), summary
