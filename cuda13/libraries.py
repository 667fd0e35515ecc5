"""Where the libraries Jittor links (cuBLAS, cuDNN, cuRAND, cuFFT, cuSPARSE) are: the
toolkit's folders, the system's, or pip's nvidia-* wheels."""
import os
import sys

from cuda13.toolkit import CudaUnavailable

CUDA_LIBRARIES = ("cublas", "cudnn", "curand", "cufft", "cusparse")
SYSTEM_HEADERS = ("/usr/include",)
SYSTEM_LIBRARIES = ("/usr/lib/x86_64-linux-gnu", "/usr/lib")


def python_sites():
    return list(sys.path)


def library_folders(toolkit_root, major):
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


def cudnn_major(header_folder):
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

    headers, libraries = library_folders(toolkit_root, major)
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
