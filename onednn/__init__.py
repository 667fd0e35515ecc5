"""Convolutions on oneDNN computed in bfloat16 (float32 in, float32 out, float32 sums).

On a CPU with AMX (Intel Sapphire Rapids and later) oneDNN runs these on the tile unit, 3-5x
faster than its float32 kernels (512 channels, 16 px); `runtime` unlocks AMX for the process
and `convolution.bf16_available` says whether they can run. The operator is
ours (`bf16_conv_op.cc`): Jittor's own oneDNN operators take the data type from their inputs
and have no bfloat16. It is compiled on first use against the oneDNN that Jittor installed,
and cached like Jittor's own operators.
"""
import glob
import os

from runtime import jt

_compiled = None


def _onednn_folder():
    import jittor_utils

    found = [folder for folder in glob.glob(os.path.join(
        jittor_utils.home(), ".cache", "jittor", "mkl", "dnnl*")) if os.path.isdir(folder)]
    if not found:
        raise RuntimeError("Jittor's oneDNN is not in ~/.cache/jittor/mkl")
    return found[0]


def _ops():
    global _compiled
    if _compiled is None:
        here = os.path.dirname(os.path.abspath(__file__))
        onednn = _onednn_folder()
        flags = (f' -I"{onednn}/include" -L"{onednn}/lib" -lmkldnn '
                 f'-Wl,-rpath="{onednn}/lib" ')
        _compiled = jt.compiler.compile_custom_ops(
            [os.path.join(here, "bf16_conv_op.h"), os.path.join(here, "bf16_conv_op.cc")],
            extra_flags=flags)
    return _compiled


def conv(x, weight, stride, padding, layout="oihw"):
    return _ops().bf16_conv(x, weight, 0, stride, padding, 0, 0, layout)


def conv_input_grad(weight, y, size, stride, padding, layout="oihw"):
    return _ops().bf16_conv(weight, y, 1, stride, padding, size[0], size[1], layout)


def conv_weight_grad(x, y, kernel_size, stride, padding, layout="oihw"):
    return _ops().bf16_conv(x, y, 2, stride, padding, kernel_size, kernel_size, layout)
