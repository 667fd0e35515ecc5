"""Which code runs each convolution of the model: the library called directly (oneDNN on the
CPU, in float32 or bfloat16 on AMX, see `onednn/`; cuDNN on CUDA with
STYLEGAN_CUDA_CONV=cudnn), Jittor's nn.conv2d otherwise.

model.py asks for what rosinality's model computes (a conv, a conv of the nearest-upsampled
input, a conv followed by 2x2 pooling, a blur); called directly, each resampling pair runs as
one stride-2 4x4 convolution, about half the time at 16-32 px, with the same parameters.
"""
import runtime
from runtime import jt
from jittor import nn

from convolution import direct
from convolution.blur import blur, blur_by_slices, blur_kernel
from convolution.direct import PRECISIONS, precision, precision_set_to, set_precision
from convolution.resampling import (average_kernel_shifts, avg_pool2, upsample_conv_kernel,
                                    upsample_nearest)

__all__ = ["PRECISIONS", "average_kernel_shifts", "avg_pool2", "bf16_available", "blur",
           "blur_by_slices", "blur_kernel", "conv2d", "conv2d_pooled", "conv2d_upsampled",
           "conv_transpose2d", "direct_available", "precision", "precision_set_to",
           "set_precision", "upsample_nearest"]


def direct_available():
    return direct.available()


def bf16_available():
    """True when bfloat16 convolutions run on AMX here (the only place they pay)."""
    return runtime.amx_ready and not jt.flags.use_cuda and direct_available()


def add_bias(x, bias):
    return x if bias is None else x + bias.reshape(1, -1, 1, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    if direct_available():
        return add_bias(direct.conv(x, weight, stride, padding), bias)
    return nn.conv2d(x, weight, bias, stride=stride, padding=padding)


def conv_transpose2d(x, weight, bias=None, stride=2, padding=1):
    """As PyTorch's conv_transpose2d (weight: in, out, k, k)."""
    if direct_available():
        size = [(length - 1) * stride - 2 * padding + weight.shape[2] for length in x.shape[2:]]
        return add_bias(direct.conv_input_grad(weight, x, size, stride, padding), bias)
    return nn.conv_transpose2d(x, weight, bias, stride=stride, padding=padding)


def conv2d_upsampled(x, weight, bias=None):
    """The 3x3 conv (padding 1) of x upsampled x2 by nearest neighbour."""
    if direct_available():
        size = [2 * length for length in x.shape[2:]]
        return add_bias(direct.conv_input_grad(upsample_conv_kernel(weight), x, size, 2, 1,
                                               "iohw"), bias)
    return conv2d(upsample_nearest(x), weight, bias, 1, 1)


def conv2d_pooled(x, weight, bias=None):
    """The 3x3 conv (padding 1) of x, then 2x2 average pooling."""
    if direct_available():
        return conv2d(x, average_kernel_shifts(weight), bias, 2, 1)
    return avg_pool2(conv2d(x, weight, bias, 1, 1))
