"""The few places of Jittor 1.3.11's sources that CUDA 13 and cuDNN 9 no longer build, fixed
in place, once, and only as far as the toolkit needs."""
import os

from cuda13.toolkit import CudaUnavailable

# cuDNN 9 dropped the RNN v6/v7 API these Jittor sources use (the model needs no RNN)
CUDNN_RNN_SOURCES = ("src/cudnn_rnn_descriptor.cc", "inc/cudnn_rnn_descriptor.h",
                      "ops/cudnn_rnn_op.cc", "ops/cudnn_rnn_op.h",
                      "ops/cudnn_rnn_backward_x_op.cc", "ops/cudnn_rnn_backward_x_op.h")
# (file under jittor/, text, replacement): what CUDA 13 changed under Jittor 1.3.11
CUDA13_SOURCE_FIXES = (
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
        for name, text, replacement in CUDA13_SOURCE_FIXES if cuda_major >= 13 else ():
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
        rnn = [name for name in CUDNN_RNN_SOURCES if os.path.isfile(os.path.join(cudnn, name))]
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
