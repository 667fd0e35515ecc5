"""Convolutions on oneDNN called directly, as three jt.Functions that differentiate each other.

Through nn.conv2d, Jittor's tuner reaches oneDNN only where it recognises the pattern in the
surrounding graph (a full-width training step at 8 px: 9-13% faster with every conv direct),
and the sums of its own loop round differently, so a resumed run would no longer repeat an
uninterrupted one bit for bit. The three functions are the partial derivatives of one
trilinear form <conv(x, w), y>, so each one's gradient is made of the others and every order
of gradient (R1 and WGAN-GP differentiate the discriminator twice) stays on oneDNN.
`layout` is the weight's: "oihw", or "iohw" for a kernel stored input-major.
"""
import onednn
from runtime import jt

PRECISIONS = ("float32", "bfloat16")
_precision = "float32"


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


def _conv_ops(weight_shape):
    """The operators behind the three functions below: oneDNN in float32 (Jittor's own) or
    in bfloat16 (ours, see onednn/). Convolutions to and from RGB stay float32: oneDNN's
    AMX layouts block channels by 16, and reordering a 3-channel kernel into them falls
    back to a reference loop that took 45 ms where the whole convolution takes 1."""
    if _precision == "bfloat16" and weight_shape[0] % 16 == 0 and weight_shape[1] % 16 == 0:
        return onednn.conv, onednn.conv_input_grad, onednn.conv_weight_grad
    return _float32_conv, _float32_conv_input_grad, _float32_conv_weight_grad


def _float32_conv(x, weight, stride, padding, layout):
    return jt.mkl_ops.mkl_conv(x, weight, stride, stride, padding, padding, 1, 1, 1,
                               "abcd", layout, "abcd")


def _float32_conv_input_grad(weight, y, size, stride, padding, layout):
    return jt.mkl_ops.mkl_conv_backward_x(weight, y, size[0], size[1], stride, stride,
                                          padding, padding, 1, 1, 1, "abcd", layout, "abcd")


def _float32_conv_weight_grad(x, y, kernel_size, stride, padding, layout):
    return jt.mkl_ops.mkl_conv_backward_w(x, y, kernel_size, kernel_size, stride, stride,
                                          padding, padding, 1, 1, 1, "abcd", layout, "abcd")


class OneDnnConv(jt.Function):
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


class OneDnnConvInputGrad(jt.Function):
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


class OneDnnConvWeightGrad(jt.Function):
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
    return OneDnnConv.apply(x, weight, stride, padding, layout, (x, weight))


def conv_input_grad(weight, y, size, stride, padding, layout="oihw"):
    return OneDnnConvInputGrad.apply(weight, y, tuple(size), stride, padding, layout, (weight, y))


def conv_weight_grad(x, y, kernel_size, stride, padding, layout="oihw"):
    return OneDnnConvWeightGrad.apply(x, y, kernel_size, stride, padding, layout, (x, y))
