"""The [1,2,1] x [1,2,1] / 16 blur after each upsampling and before each downsampling, with
a gradient that is again the blur (the kernel is symmetric, so its adjoint is itself): every
order of gradient that R1 and WGAN-GP take through it stays exact."""
import numpy as np

from convolution import direct
from runtime import jt
from jittor import nn

_KERNELS = {}


def blur_kernel(channels):
    """[1,2,1] x [1,2,1] / 16 for each channel, shaped for a grouped conv; one per width."""
    if channels not in _KERNELS:
        taps = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float32) / 16
        kernel = jt.array(np.tile(taps, (channels, 1, 1, 1))).stop_grad()
        kernel.sync()  # once per width: a fresh array fused into its first graph rounds
        # differently there, and the first run in a process would not repeat bit for bit
        _KERNELS[channels] = kernel
    return _KERNELS[channels]


def blur_forward(x):
    """Depthwise blur with zero padding, forward only: the library's grouped convolution
    called directly where the convolutions are (oneDNN: 5-9x faster than shifted slices;
    through nn.conv2d Jittor picks oneDNN or its own loop depending on the surrounding graph,
    whose sums round differently, and a resumed run would no longer match an uninterrupted
    one bit for bit). Otherwise two separable passes of slices: Jittor's own depthwise conv
    on CUDA needs CUB, which does not build with CUDA 13."""
    if not direct.available():
        return blur_by_slices(x)
    channels = x.shape[1]
    grouped_conv = jt.cudnn.ops.cudnn_conv if jt.flags.use_cuda else jt.mkl_ops.mkl_conv
    return grouped_conv(x, blur_kernel(channels), 1, 1, 1, 1, 1, 1, channels)


def blur_by_slices(x):
    x = nn.pad(x, [1, 1, 1, 1])
    x = x[:, :, :, :-2] + 2 * x[:, :, :, 1:-1] + x[:, :, :, 2:]
    x = x[:, :, :-2, :] + 2 * x[:, :, 1:-1, :] + x[:, :, 2:, :]
    return x * (1 / 16)


class BlurFunction(jt.Function):
    def execute(self, x):
        return blur_forward(x)

    def grad(self, grad_output):
        return BlurFunction.apply(grad_output)


def blur(x):
    return BlurFunction.apply(x)
