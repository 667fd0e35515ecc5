"""A folder laid out as Jittor 1.3.11 expects a CUDA toolkit, built from the real toolkit and
the libraries found beside it."""
import os

from cuda13.toolkit import ROOT_MARKER

# every parallel CUDA kernel of Jittor includes misc/cuda_limits.h, which includes <npp.h>
# for these eight limits only; toolkits from pip have no NPP
NPP_LIMITS = """#pragma once
#define NPP_MIN_32U ( 0 )
#define NPP_MAX_32U ( 4294967295U )
#define NPP_MIN_32S (-2147483647 - 1 )
#define NPP_MAX_32S ( 2147483647 )
#define NPP_MIN_64U ( 0 )
#define NPP_MAX_64U ( 18446744073709551615ULL )
#define NPP_MIN_64S (-9223372036854775807LL - 1)
#define NPP_MAX_64S ( 9223372036854775807LL )
"""
# Jittor loads cuDNN 8's split libraries by name; cuDNN 9 has these in their place
CUDNN8_NAMES = {"libcudnn_ops_infer.so": "libcudnn_ops.so", "libcudnn_ops_train.so":
                 "libcudnn_ops.so", "libcudnn_cnn_infer.so": "libcudnn_cnn.so",
                 "libcudnn_cnn_train.so": "libcudnn_cnn.so"}


def build_cuda_root(toolkit_root, libraries, destination):
    """A folder laid out as Jittor expects a toolkit: bin/nvcc (a script, since Jittor
    resolves links), include/ and lib64/ joining the toolkit and the libraries' folders,
    unversioned and cuDNN 8 library names, an npp.h stand-in. Built under a temporary name
    and renamed, so processes starting together never see half of it."""
    import tempfile

    if os.path.isfile(os.path.join(destination, ROOT_MARKER)):
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
            stand_in.write(NPP_LIMITS)
    lib64 = os.path.join(building, "lib64")
    for name in sorted(os.listdir(lib64)):
        if ".so." in name:
            unversioned = os.path.join(lib64, name.split(".so.")[0] + ".so")
            if not os.path.lexists(unversioned):
                os.symlink(os.path.realpath(os.path.join(lib64, name)), unversioned)
    for old, new in CUDNN8_NAMES.items():
        if os.path.lexists(f"{lib64}/{new}") and not os.path.lexists(f"{lib64}/{old}"):
            os.symlink(os.path.realpath(f"{lib64}/{new}"), f"{lib64}/{old}")
    with open(os.path.join(building, ROOT_MARKER), "w") as marker:
        marker.write(toolkit_root + "\n")
    try:
        os.rename(building, destination)
    except OSError:  # another process got there first
        import shutil

        shutil.rmtree(building, ignore_errors=True)
    return destination
