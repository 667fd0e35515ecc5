"""Convolutions called directly on the library (oneDNN on the CPU, cuDNN on CUDA), as three
jt.Functions that differentiate each other.

Through nn.conv2d, Jittor's tuner reaches the library only where it recognises the pattern in
the surrounding graph (a full-width training step at 8 px on oneDNN: 9-13% faster with every
conv direct; a miss on CUDA runs a generated kernel), and the sums of its own loop round
differently, so a resumed run would no longer repeat an uninterrupted one bit for bit. The
three functions are the partial derivatives of one trilinear form <conv(x, w), y>, so each
one's gradient is made of the others and every order of gradient (R1 and WGAN-GP
differentiate the discriminator twice) stays on the library. The library operators' own
grad() is never used (cuDNN's reads NCHW shapes as NHWC).
`layout` is the weight's: "oihw", or "iohw" for a kernel stored input-major.
"""
import contextlib
import os

import onednn
from cli import UsageError
from runtime import jt

CUDA_PATHS = ("jittor", "cudnn")
DEFAULT_CUDA_PATH = "jittor"  # until GPU figures say otherwise (docs/gpu.md)

PRECISIONS = ("float32", "bfloat16")
_precision = "float32"
_cuda_path = None


def set_precision(precision):
    """"bfloat16": the CPU convolutions multiply bfloat16 copies of their operands (float32
    sums and results), which oneDNN runs on AMX 3-5x faster; "float32": exact. Every
    other operation, the parameters and the optimiser stay float32 either way."""
    global _precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision}: choose one of {', '.join(PRECISIONS)}")
    _precision = precision


def precision():
    return _precision


@contextlib.contextmanager
def precision_set_to(value):
    """Run a block at another precision (training's FID: float32, as metrics.py)."""
    previous = _precision
    set_precision(value)
    try:
        yield
    finally:
        set_precision(previous)


def read_cuda_path():
    """How convolutions run on CUDA: $STYLEGAN_CUDA_CONV, "cudnn" (the functions below on
    cuDNN) or "jittor" (nn.conv2d and Jittor's conv tuner)."""
    path = os.environ.get("STYLEGAN_CUDA_CONV", DEFAULT_CUDA_PATH)
    if path not in CUDA_PATHS:
        raise UsageError(f"STYLEGAN_CUDA_CONV={path}: choose {' or '.join(CUDA_PATHS)}")
    return path


def cuda_path():
    """read_cuda_path(), read once: every convolution asks."""
    global _cuda_path
    if _cuda_path is None:
        _cuda_path = read_cuda_path()
    return _cuda_path


def available():
    """True where the functions below run: oneDNN on the CPU, cuDNN on CUDA when chosen."""
    if jt.flags.use_cuda:
        return cuda_path() == "cudnn" and jt.cudnn is not None
    return jt.mkl_ops is not None


def library_ops(conv_op, backward_x_op, backward_w_op, weight_layouts=("oihw", "iohw")):
    """The three operators of a library whose convolution ops take Jittor's mkl/cudnn
    arguments (strides, paddings, dilations, groups, formats), as the functions below call
    them. A library that reads only "oihw" kernels gets input-major ones transposed."""

    def as_oihw(weight, layout):
        if layout in weight_layouts:
            return weight, layout
        return weight.transpose(1, 0, 2, 3), "oihw"

    def conv_forward(x, weight, stride, padding, layout):
        weight, layout = as_oihw(weight, layout)
        return conv_op(x, weight, stride, stride, padding, padding, 1, 1, 1,
                       "abcd", layout, "abcd")

    def conv_backward_x(weight, y, size, stride, padding, layout):
        weight, layout = as_oihw(weight, layout)
        return backward_x_op(weight, y, size[0], size[1], stride, stride, padding, padding,
                             1, 1, 1, "abcd", layout, "abcd")

    def conv_backward_w(x, y, kernel_size, stride, padding, layout):
        oihw = layout not in weight_layouts
        grad = backward_w_op(x, y, kernel_size, kernel_size, stride, stride, padding,
                             padding, 1, 1, 1, "abcd", "oihw" if oihw else layout, "abcd")
        return grad.transpose(1, 0, 2, 3) if oihw else grad

    return conv_forward, conv_backward_x, conv_backward_w


_float32_ops = _cudnn_ops = None


def float32_ops():
    """oneDNN's float32 convolutions as Jittor ships them."""
    global _float32_ops
    if _float32_ops is None:
        ops = jt.mkl_ops
        _float32_ops = library_ops(ops.mkl_conv, ops.mkl_conv_backward_x, ops.mkl_conv_backward_w)
    return _float32_ops


def cudnn_ops():
    """cuDNN's convolutions, which read "oihw" and "ohwi" kernels only."""
    global _cudnn_ops
    if _cudnn_ops is None:
        ops = jt.cudnn.ops
        _cudnn_ops = library_ops(ops.cudnn_conv, ops.cudnn_conv_backward_x,
                                 ops.cudnn_conv_backward_w, weight_layouts=("oihw",))
    return _cudnn_ops


def _conv_ops(weight_shape):
    """The operators behind the three functions below: cuDNN on CUDA; on the CPU oneDNN in
    float32 (Jittor's own) or in bfloat16 (ours, see onednn/). Convolutions to and from RGB
    stay float32: oneDNN's AMX layouts block channels by 16, and reordering a 3-channel
    kernel into them falls back to a reference loop that took 45 ms where the whole
    convolution takes 1."""
    if jt.flags.use_cuda:
        return cudnn_ops()
    if _precision == "bfloat16" and weight_shape[0] % 16 == 0 and weight_shape[1] % 16 == 0:
        return onednn.conv, onednn.conv_input_grad, onednn.conv_weight_grad
    return float32_ops()


class DirectConv(jt.Function):
    """y = conv(x, w). Each Function gets its two tensors twice: as arguments, and in a tuple
    that jt.Function leaves alone. Its gradient must be built from the tuple's: built from
    the taped arguments, the second-order terms across the two tensors came out wrong."""

    def execute(self, x, weight, stride, padding, layout, untaped):
        (self.x, self.weight), self.options = untaped, (stride, padding, layout)
        return _conv_ops(weight.shape)[0](x, weight, stride, padding, layout)

    def grad(self, grad_y):
        x, weight = self.x, self.weight
        return (conv_input_grad(weight, grad_y, x.shape[2:], *self.options),
                conv_weight_grad(x, grad_y, weight.shape[2], *self.options),
                None, None, None, None)


class DirectConvInputGrad(jt.Function):
    """The gradient of conv(x, w) with respect to x, given the output's gradient y: the
    transposed convolution of y by w."""

    def execute(self, weight, y, size, stride, padding, layout, untaped):
        (self.weight, self.y), self.options = untaped, (stride, padding, layout)
        return _conv_ops(weight.shape)[1](weight, y, size, stride, padding, layout)

    def grad(self, grad_x):
        weight, y = self.weight, self.y
        return (conv_weight_grad(grad_x, y, weight.shape[2], *self.options),
                conv(grad_x, weight, *self.options),
                None, None, None, None, None)


class DirectConvWeightGrad(jt.Function):
    """The gradient of conv(x, w) with respect to w, given the output's gradient y."""

    def execute(self, x, y, kernel_size, stride, padding, layout, untaped):
        (self.x, self.y), self.options = untaped, (stride, padding, layout)
        return _conv_ops((y.shape[1], x.shape[1]))[2](x, y, kernel_size, stride, padding, layout)

    def grad(self, grad_weight):
        x, y = self.x, self.y
        return (conv_input_grad(grad_weight, y, x.shape[2:], *self.options),
                conv(x, grad_weight, *self.options),
                None, None, None, None, None)


def conv(x, weight, stride, padding, layout="oihw"):
    return DirectConv.apply(x, weight, stride, padding, layout, (x, weight))


def conv_input_grad(weight, y, size, stride, padding, layout="oihw"):
    return DirectConvInputGrad.apply(weight, y, tuple(size), stride, padding, layout, (weight, y))


def conv_weight_grad(x, y, kernel_size, stride, padding, layout="oihw"):
    return DirectConvWeightGrad.apply(x, y, kernel_size, stride, padding, layout, (x, y))
