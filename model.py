"""StyleGAN (v1) generator and discriminator in Jittor.

Module layout and parameter names follow rosinality's style-based-gan-pytorch (and so
StyleGAN-jittor's), so their checkpoints load as they are. `width` scales every channel
count (512 = the full-size model) so tests and CPU demos can run narrow models.
"""
import math
import random

import numpy as np

import onednn
import runtime
from runtime import jt
from jittor import nn

# channels per resolution, 4 px .. 1024 px, of the full-size model
FULL_CHANNELS = [512, 512, 512, 512, 256, 128, 64, 32, 16]
FUSED_FROM_STEP = 5  # fused up/downsampling from 128 px, as in both projects
N_BLOCKS = len(FULL_CHANNELS)


def scaled_channels(width):
    return [max(1, channels * width // 512) for channels in FULL_CHANNELS]


def step_of_size(size):
    """Progression step of a resolution: 4 px -> 0, 8 px -> 1, ... 1024 px -> 8."""
    step = int(round(math.log2(size))) - 2
    if size < 4 or 4 * 2**step != size:
        raise ValueError(f"size {size} is not a power of two of at least 4")
    return step


class EqualLR:
    """Pre-forward hook of the equalised learning rate.

    The stored parameter `<name>_orig` is N(0, 1); each call sets `<name>` to it times
    sqrt(2 / fan_in), so every layer learns at the same speed under Adam. A forward hook
    drops the scaled tensor afterwards so it never reaches the state_dict or parameters().
    """

    def __init__(self, module, name="weight"):
        weight = getattr(module, name)
        delattr(module, name)
        setattr(module, name + "_orig", weight)
        self.name = name
        self.multiplier = math.sqrt(2 / (weight.numel() // weight.shape[0]))
        module.register_pre_forward_hook(self)
        module.register_forward_hook(self.drop_scaled_weight)

    def __call__(self, module, args):
        setattr(module, self.name, getattr(module, self.name + "_orig") * self.multiplier)

    def drop_scaled_weight(self, module, args, output):
        delattr(module, self.name)


def equal_lr(module, name="weight"):
    EqualLR(module, name)
    return module


def onednn_available():
    return not jt.flags.use_cuda and jt.mkl_ops is not None


def bf16_available():
    """True when bfloat16 convolutions run on AMX here (the only place they pay)."""
    return runtime.amx_ready and onednn_available()


PRECISIONS = ("float32", "bfloat16")
_conv_precision = "float32"


def set_conv_precision(precision):
    """"bfloat16": the CPU convolutions multiply bfloat16 copies of their operands (float32
    sums and results), which oneDNN runs on AMX 3-5x faster; "float32": exact. Every
    other operation, the parameters and the optimiser stay float32 either way."""
    global _conv_precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision}: choose one of {', '.join(PRECISIONS)}")
    _conv_precision = precision


def conv_precision():
    return _conv_precision


def _conv_ops(weight_shape):
    """The operators behind the three functions below: oneDNN in float32 (Jittor's own) or
    in bfloat16 (ours, see onednn/). Convolutions to and from RGB stay float32: oneDNN's
    AMX layouts block channels by 16, and reordering a 3-channel kernel into them falls
    back to a reference loop that took 45 ms where the whole convolution takes 1."""
    if _conv_precision == "bfloat16" and weight_shape[0] % 16 == 0 and weight_shape[1] % 16 == 0:
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
    """y = conv(x, w) by oneDNN directly, rather than through nn.conv2d, whose tuner
    reaches oneDNN only where it recognises the pattern in the surrounding graph (a
    full-width training step at 8 px: 9-13% faster with every conv direct). The
    three functions here are the partial derivatives of one trilinear form
    <conv(x, w), y>, so each one's gradient is made of the others and every order of
    gradient (R1 and WGAN-GP differentiate the discriminator twice) stays on oneDNN.
    `layout` is the weight's: "oihw", or "iohw" for a kernel stored input-major.

    Each gets its two tensors twice: as arguments, and in a tuple that jt.Function
    leaves alone. Its gradient must be built from the tuple's: built from the taped
    arguments, the second-order terms across the two tensors came out wrong."""

    def execute(self, x, weight, stride, padding, layout, untaped):
        (self.x, self.weight), self.options = untaped, (stride, padding, layout)
        return _conv_ops(weight.shape)[0](x, weight, stride, padding, layout)

    def grad(self, grad_y):
        x, weight = self.x, self.weight
        return (onednn_conv_input_grad(weight, grad_y, x.shape[2:], *self.options),
                onednn_conv_weight_grad(x, grad_y, weight.shape[2], *self.options),
                None, None, None, None)


class OneDnnConvInputGrad(jt.Function):
    """The gradient of conv(x, w) with respect to x, given the output's gradient y: the
    transposed convolution of y by w."""

    def execute(self, weight, y, size, stride, padding, layout, untaped):
        (self.weight, self.y), self.options = untaped, (stride, padding, layout)
        return _conv_ops(weight.shape)[1](weight, y, size, stride, padding, layout)

    def grad(self, grad_x):
        weight, y = self.weight, self.y
        return (onednn_conv_weight_grad(grad_x, y, weight.shape[2], *self.options),
                onednn_conv(grad_x, weight, *self.options),
                None, None, None, None, None)


class OneDnnConvWeightGrad(jt.Function):
    """The gradient of conv(x, w) with respect to w, given the output's gradient y."""

    def execute(self, x, y, kernel_size, stride, padding, layout, untaped):
        (self.x, self.y), self.options = untaped, (stride, padding, layout)
        return _conv_ops((y.shape[1], x.shape[1]))[2](x, y, kernel_size, stride, padding, layout)

    def grad(self, grad_weight):
        x, y = self.x, self.y
        return (onednn_conv_input_grad(grad_weight, y, x.shape[2:], *self.options),
                onednn_conv(x, grad_weight, *self.options),
                None, None, None, None, None)


def onednn_conv(x, weight, stride, padding, layout="oihw"):
    return OneDnnConv.apply(x, weight, stride, padding, layout, (x, weight))


def onednn_conv_input_grad(weight, y, size, stride, padding, layout="oihw"):
    return OneDnnConvInputGrad.apply(weight, y, tuple(size), stride, padding, layout, (weight, y))


def onednn_conv_weight_grad(x, y, kernel_size, stride, padding, layout="oihw"):
    return OneDnnConvWeightGrad.apply(x, y, kernel_size, stride, padding, layout, (x, y))


def add_bias(x, bias):
    return x if bias is None else x + bias.reshape(1, -1, 1, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    if onednn_available():
        return add_bias(onednn_conv(x, weight, stride, padding), bias)
    return nn.conv2d(x, weight, bias, stride=stride, padding=padding)


def conv_transpose2d(x, weight, bias=None, stride=2, padding=1):
    """As PyTorch's conv_transpose2d (weight: in, out, k, k)."""
    if onednn_available():
        size = [(length - 1) * stride - 2 * padding + weight.shape[2] for length in x.shape[2:]]
        return add_bias(onednn_conv_input_grad(weight, x, size, stride, padding), bias)
    return nn.conv_transpose2d(x, weight, bias, stride=stride, padding=padding)


class Linear(nn.Module):
    def __init__(self, in_dim, out_dim):
        self.weight = jt.randn(out_dim, in_dim)
        self.bias = jt.zeros(out_dim)

    def execute(self, x):
        return nn.matmul_transpose(x, self.weight) + self.bias


class Conv2d(nn.Module):
    """A conv; with resample "up" it reads nearest-upsampled x2 input, with "down" its
    output is 2x2-average-pooled (3x3 kernels, padding 1). On oneDNN each pair runs as
    one stride-2 4x4 conv (transposed for "up"): the same sums, 16 instead of 36
    multiply-adds per pixel and channel pair, about half the time at 16-32 px."""

    def __init__(self, in_channels, out_channels, kernel_size, padding=0, bias=True,
                 resample=None):
        assert resample is None or (kernel_size, padding) == (3, 1)
        self.weight = jt.randn(out_channels, in_channels, kernel_size, kernel_size)
        self.bias = jt.zeros(out_channels) if bias else None
        self.padding = padding
        self.resample = resample

    def execute(self, x):
        if self.resample == "up" and onednn_available():
            size = [2 * length for length in x.shape[2:]]
            return add_bias(onednn_conv_input_grad(upsample_conv_kernel(self.weight), x, size,
                                                   2, 1, "iohw"), self.bias)
        if self.resample == "down" and onednn_available():
            return conv2d(x, average_kernel_shifts(self.weight), self.bias, 2, 1)
        if self.resample == "up":
            x = upsample_nearest(x)
        out = conv2d(x, self.weight, self.bias, 1, self.padding)
        return avg_pool2(out) if self.resample == "down" else out


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim):
        self.linear = equal_lr(Linear(in_dim, out_dim))

    def execute(self, x):
        return self.linear(x)


class EqualConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, padding=0, bias=True,
                 resample=None):
        self.conv = equal_lr(Conv2d(in_channels, out_channels, kernel_size, padding, bias,
                                    resample))

    def execute(self, x):
        return self.conv(x)


class LeakyReLU(nn.Module):
    def execute(self, x):
        return nn.leaky_relu(x, 0.2)


_BLUR_KERNELS = {}


def blur_kernel(channels):
    """[1,2,1] x [1,2,1] / 16 for each channel, shaped for a grouped conv; one per width."""
    if channels not in _BLUR_KERNELS:
        taps = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float32) / 16
        kernel = jt.array(np.tile(taps, (channels, 1, 1, 1))).stop_grad()
        kernel.sync()  # once per width: a fresh array fused into its first graph rounds
        # differently there, and the first run in a process would not repeat bit for bit
        _BLUR_KERNELS[channels] = kernel
    return _BLUR_KERNELS[channels]


def blur_forward(x):
    """Depthwise [1,2,1] x [1,2,1] / 16 with zero padding, forward only (BlurFunction gives
    the gradient). On the CPU oneDNN's grouped conv, called directly (5-9x faster than
    shifted slices there; through nn.conv2d Jittor picks oneDNN or its own loop depending
    on the surrounding graph, whose sums round differently, and a resumed run would no
    longer match an uninterrupted one bit for bit). On CUDA two separable passes of slices,
    since Jittor's depthwise conv needs CUB, which does not build with CUDA 13."""
    if jt.flags.use_cuda or jt.mkl_ops is None:
        return blur_by_slices(x)
    channels = x.shape[1]
    return jt.mkl_ops.mkl_conv(x, blur_kernel(channels), 1, 1, 1, 1, 1, 1, channels)


def blur_by_slices(x):
    x = nn.pad(x, [1, 1, 1, 1])
    x = x[:, :, :, :-2] + 2 * x[:, :, :, 1:-1] + x[:, :, :, 2:]
    x = x[:, :, :-2, :] + 2 * x[:, :, 1:-1, :] + x[:, :, 2:, :]
    return x * (1 / 16)


class BlurFunction(jt.Function):
    """Blur whose gradient is again this Function: the kernel is symmetric, so the
    adjoint (the flipped kernel) is the same blur, and every order of gradient
    (R1 and WGAN-GP differentiate through it) stays exact."""

    def execute(self, x):
        return blur_forward(x)

    def grad(self, grad_output):
        return BlurFunction.apply(grad_output)


class Blur(nn.Module):
    def __init__(self, channels=None):
        pass  # the kernel is fixed; no state, so nothing extra in the state_dict

    def execute(self, x):
        return BlurFunction.apply(x)


def upsample_nearest(x):
    n, c, h, w = x.shape
    return x.reindex([n, c, h * 2, w * 2], ["i0", "i1", "i2/2", "i3/2"])


def avg_pool2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean([3, 5])


# Fused with a x2 nearest upsampling or a 2x2 pooling, each 3x3 tap of a kernel lands
# on two adjacent taps of 4 per axis: 4x4 = SHIFTS (4x3) . 3x3 . SHIFTS^T
KERNEL_SHIFTS = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]], np.float32)


def fold_matrix(shifts):
    """(9, 16): flattened 3x3 kernels to the fused 4x4 ones. A matmul: 4 ms for a
    512-channel kernel and its gradient, where padding and four shifted slices took 88."""
    matrix = jt.array(np.einsum("ap,bq->pqab", shifts, shifts).reshape(9, 16)).stop_grad()
    matrix.sync()
    return matrix


# made at import, not at first use: made (and synced) in the middle of the first
# training step, a second run in the same process (matrices already there) no longer
# repeated the first bit for bit. Why is not known (the blur kernels, made the same way,
# do not do this); test_faults checks that two runs in one process agree
FOLD_MATRICES = {"average": fold_matrix(KERNEL_SHIFTS / 2),
                 "upsample": fold_matrix(KERNEL_SHIFTS[::-1])}


def fold_kernel(weight, name):
    out_channels, in_channels = weight.shape[:2]
    flat = weight.reshape(out_channels * in_channels, 9)
    return nn.matmul(flat, FOLD_MATRICES[name]).reshape(out_channels, in_channels, 4, 4)


def average_kernel_shifts(weight):
    """The stride-2 4x4 kernel of a 3x3 conv followed by 2x2 average pooling. (Both
    projects' FusedUpsample uses it in a transposed conv too, which gives a quarter of
    what nearest upsampling + conv would; kept, since their checkpoints need it.)"""
    return fold_kernel(weight, "average")


def upsample_conv_kernel(weight):
    """The stride-2 transposed-conv kernel equal to nearest upsampling x2 followed by
    the 3x3 conv `weight` (out, in, 3, 3) with padding 1; mirrored, and left in the
    conv's (out, in) order, which oneDNN reads with layout "iohw"."""
    return fold_kernel(weight, "upsample")


class FusedScaleConv(nn.Module):
    """A 3x3 kernel with its own equalising multiplier (no EqualLR hook, as in both
    projects), padded to 4x4 with its four shifts averaged for a stride-2 conv."""

    def __init__(self, weight_shape, in_channels, out_channels, kernel_size, padding, bias=True):
        self.weight = jt.randn(*weight_shape)
        self.bias = jt.zeros(out_channels) if bias else None
        self.multiplier = math.sqrt(2 / (in_channels * kernel_size * kernel_size))
        self.padding = padding

    def fused_weight(self):
        return average_kernel_shifts(self.weight * self.multiplier)


class FusedUpsample(FusedScaleConv):
    """Upsample x2 and 3x3 conv as one stride-2 transposed conv (weight: in, out, k, k)."""

    def __init__(self, in_channels, out_channels, kernel_size, padding=0, bias=True):
        super().__init__((in_channels, out_channels, kernel_size, kernel_size),
                         in_channels, out_channels, kernel_size, padding, bias)

    def execute(self, x):
        return conv_transpose2d(x, self.fused_weight(), self.bias, 2, self.padding)


class FusedDownsample(FusedScaleConv):
    """3x3 conv and 2x2 average pool as one stride-2 conv (weight: out, in, k, k)."""

    def __init__(self, in_channels, out_channels, kernel_size, padding=0):
        super().__init__((out_channels, in_channels, kernel_size, kernel_size),
                         in_channels, out_channels, kernel_size, padding)

    def execute(self, x):
        return conv2d(x, self.fused_weight(), self.bias, 2, self.padding)


class ChannelBias(nn.Module):
    """A per-channel bias on its own: the official generator adds it after the blur."""

    def __init__(self, channels):
        self.bias = jt.zeros(channels)

    def execute(self, x):
        return x + self.bias.reshape(1, -1, 1, 1)


class PixelNorm(nn.Module):
    def execute(self, x):
        return x / jt.sqrt((x * x).mean(1, keepdims=True) + 1e-8)


def instance_norm(x, eps=1e-5):
    centred = x - x.mean([2, 3], keepdims=True)
    variance = (centred * centred).mean([2, 3], keepdims=True)
    return centred / jt.sqrt(variance + eps)


class AdaptiveInstanceNorm(nn.Module):
    """Instance norm, then a per-channel scale and shift predicted from the style w."""

    def __init__(self, channels, style_dim, eps=1e-5):
        self.style = EqualLinear(style_dim, channels * 2)
        # gamma starts at 1 and beta at 0, so AdaIN starts as a plain instance norm
        self.style.linear.bias = jt.concat([jt.ones(channels), jt.zeros(channels)])
        self.eps = eps

    def execute(self, x, style):
        n, c = x.shape[:2]
        gamma_beta = self.style(style).reshape(n, 2, c, 1, 1)
        return gamma_beta[:, 0] * instance_norm(x, self.eps) + gamma_beta[:, 1]


class NoiseInjection(nn.Module):
    """Adds a single-channel noise map with a learned per-channel strength (starts at 0)."""

    def __init__(self, channels):
        self.weight = jt.zeros(1, channels, 1, 1)

    def execute(self, x, noise):
        return x + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channels, size=4):
        self.input = jt.randn(1, channels, size, size)

    def execute(self, noise):
        # the first block's "input" is its noise map, which only tells the batch size
        return self.input.broadcast((noise.shape[0],) + tuple(self.input.shape[1:]))


class StyledConvBlock(nn.Module):
    """conv -> noise -> LeakyReLU -> AdaIN, twice (each layer takes its own noise map;
    rosinality's generator gives both the same one)."""

    def __init__(self, in_channels, out_channels, style_dim, initial=False, fused=False,
                 norm_eps=1e-5, bias_after_blur=False):
        # rosinality adds the upsampling conv's bias before the blur, the official code
        # after it: they differ at the borders, where the blur sees zero padding
        tail = [Blur(out_channels)] + ([ChannelBias(out_channels)] if bias_after_blur else [])
        if initial:
            self.conv1 = ConstantInput(in_channels)
        elif fused:
            self.conv1 = nn.Sequential(FusedUpsample(in_channels, out_channels, 3, padding=1,
                                                     bias=not bias_after_blur), *tail)
        else:
            # slot 0 held the upsampling, now inside the conv; kept so that parameter
            # names stay rosinality's (conv1.1.conv.weight_orig)
            self.conv1 = nn.Sequential(
                nn.Identity(), EqualConv2d(in_channels, out_channels, 3, padding=1,
                                           bias=not bias_after_blur, resample="up"), *tail)
        self.noise1 = equal_lr(NoiseInjection(out_channels))
        self.adain1 = AdaptiveInstanceNorm(out_channels, style_dim, norm_eps)
        self.conv2 = EqualConv2d(out_channels, out_channels, 3, padding=1)
        self.noise2 = equal_lr(NoiseInjection(out_channels))
        self.adain2 = AdaptiveInstanceNorm(out_channels, style_dim, norm_eps)

    def execute(self, x, style1, style2, noise1, noise2):
        out = self.conv1(x)
        out = self.adain1(nn.leaky_relu(self.noise1(out, noise1), 0.2), style1)
        out = self.conv2(out)
        return self.adain2(nn.leaky_relu(self.noise2(out, noise2), 0.2), style2)


def fade(skip, out, alpha):
    """Blend a new resolution in: alpha 0 is the old path only, alpha 1 the new only."""
    return (1 - alpha) * skip + alpha * out


def fading(step, alpha):
    return step > 0 and 0 <= alpha < 1


def grey_image(rgb):
    """The mean of the three channels in each: what a generator for greyscale data draws."""
    return rgb.mean(1, keepdims=True).broadcast(rgb.shape)


class Generator(nn.Module):
    """The synthesis network: per-resolution styled blocks and 1x1 to_rgb layers.

    `channels` lists the channels per block from 4 px up (default: the full-size table
    scaled by width/512); NVIDIA's released models need their own table, read from the file.
    With grey=True the three to_rgb outputs are averaged (same weights, same file layout):
    on greyscale data a colour cast is then impossible rather than something to unlearn.
    With noise_per_layer each layer takes its own noise map (official), else each block
    shares one between its two layers (rosinality)."""

    def __init__(self, style_dim=512, width=512, fused=True, grey=False, channels=None,
                 noise_per_layer=False, norm_eps=1e-5, bias_after_blur=False):
        self.grey, self.noise_per_layer = grey, noise_per_layer
        channels = list(channels or scaled_channels(width))
        blocks = [StyledConvBlock(channels[0], channels[0], style_dim, initial=True,
                                  norm_eps=norm_eps)]
        for step in range(1, len(channels)):
            blocks.append(StyledConvBlock(channels[step - 1], channels[step], style_dim,
                                          fused=fused and step >= FUSED_FROM_STEP,
                                          norm_eps=norm_eps, bias_after_blur=bias_after_blur))
        self.progression = nn.ModuleList(*blocks)
        self.to_rgb = nn.ModuleList(*[EqualConv2d(c, 3, 1) for c in channels])

    def block_noise(self, noise, block):
        if self.noise_per_layer:
            return noise[2 * block], noise[2 * block + 1]
        return noise[block], noise[block]

    def modules_in_use(self, step, alpha):
        """The modules execute(step=step, alpha=alpha) runs."""
        used = [self.progression[block] for block in range(step + 1)] + [self.to_rgb[step]]
        return used + [self.to_rgb[step - 1]] if fading(step, alpha) else used

    def execute(self, layer_styles, noise, step=0, alpha=-1):
        """layer_styles: one w per AdaIN layer (2 per block); noise: one map per block, or
        per layer with noise_per_layer."""
        out = previous = noise[0]
        for block in range(step + 1):
            previous = out
            out = self.progression[block](out, layer_styles[2 * block],
                                          layer_styles[2 * block + 1],
                                          *self.block_noise(noise, block))
        rgb = self.to_rgb[step](out)
        if fading(step, alpha):
            rgb = fade(upsample_nearest(self.to_rgb[step - 1](previous)), rgb, alpha)
        return grey_image(rgb) if self.grey else rgb


def crossover_styles(styles, step, mixing_range=(-1, -1)):
    """Which latent's w drives each block: one per block, as in both projects.

    With a mixing_range (a, b), blocks a..b take styles[1] and the rest styles[0].
    Otherwise the switch points between consecutive styles are drawn at random among
    the blocks below `step` (random mixing regularisation); at step 0 there is none.
    """
    if tuple(mixing_range) != (-1, -1):
        low, high = mixing_range
        return [styles[1] if low <= block <= high else styles[0] for block in range(N_BLOCKS)]
    switches = sorted(random.sample(range(step), min(len(styles) - 1, step)))
    return [styles[sum(block > s for s in switches)] for block in range(N_BLOCKS)]


class StyledGenerator(nn.Module):
    """Mapping network (PixelNorm + n_mlp equalised linears) and synthesis network.

    Called like rosinality's / StyleGAN-jittor's StyledGenerator. `w_avg` is the moving
    average of w tracked during training, used as the truncation centre when set.
    """

    def __init__(self, code_dim=512, n_mlp=8, width=512, fused=True, grey=False, channels=None,
                 noise_per_layer=False, norm_eps=1e-5, bias_after_blur=False):
        self.generator = Generator(code_dim, width, fused, grey, channels, noise_per_layer,
                                   norm_eps, bias_after_blur)
        layers = [PixelNorm()]
        for _ in range(n_mlp):
            layers += [EqualLinear(code_dim, code_dim), LeakyReLU()]
        self.style = nn.Sequential(*layers)
        self.w_avg = jt.zeros(code_dim).stop_grad()

    def modules_in_use(self, step, alpha):
        return [self.style] + self.generator.modules_in_use(step, alpha)

    def execute(self, input, noise=None, step=0, alpha=-1, mean_style=None, style_weight=0,
                mixing_range=(-1, -1), truncation_cutoff=None):
        latents = list(input) if isinstance(input, (list, tuple)) else [input]
        styles = [self.style(z) for z in latents]
        return self.synthesize(styles, noise, step, alpha, mean_style, style_weight,
                               mixing_range, truncation_cutoff)

    def synthesize(self, styles, noise=None, step=0, alpha=-1, mean_style=None, style_weight=0,
                   mixing_range=(-1, -1), truncation_cutoff=None):
        """Images from w vectors (one per latent, as mixed by crossover_styles)."""
        if noise is None:
            noise = self.make_noise(styles[0].shape[0], step)
        block_styles = crossover_styles(styles, step, mixing_range)
        layer_styles = [style for style in block_styles for _ in range(2)]
        if mean_style is not None:
            layer_styles = truncate(layer_styles, mean_style, style_weight, truncation_cutoff)
        return self.generator(layer_styles, noise, step, alpha)

    def make_noise(self, batch, step):
        per_block = 2 if self.generator.noise_per_layer else 1
        return [jt.randn(batch, 1, 4 * 2**block, 4 * 2**block)
                for block in range(step + 1) for _ in range(per_block)]

    def mean_style(self, input):
        return self.style(input).mean(0, keepdims=True)

    def update_w_avg(self, w_batch_mean, beta=0.995):
        """w_avg <- beta * w_avg + (1 - beta) * batch mean of w, as the official code."""
        self.w_avg.update((w_batch_mean + beta * (self.w_avg - w_batch_mean)).stop_grad())


def truncate(layer_styles, mean_style, psi, cutoff=None):
    """Move w toward the average by psi (the truncation trick) in layers below cutoff
    (all layers when cutoff is None, as rosinality; the official code uses 8)."""
    n_layers = len(layer_styles) if cutoff is None else cutoff
    return [mean_style + psi * (style - mean_style) if layer < n_layers else style
            for layer, style in enumerate(layer_styles)]


def minibatch_stddev(x, group_size=0):
    """Append the average standard deviation across samples as one extra channel.

    group_size 0 uses the whole batch (rosinality, StyleGAN-jittor); the official code
    uses groups of 4. Population variance, with 1e-8 inside the square root.
    """
    n, c, h, w = x.shape
    group = n if group_size <= 0 else min(group_size, n)
    grouped = x.reshape(group, n // group, c, h, w)
    centred = grouped - grouped.mean(0, keepdims=True)
    std = jt.sqrt((centred * centred).mean(0) + 1e-8).mean([1, 2, 3])  # one per group slot
    std_map = std.reshape(1, n // group, 1, 1, 1).broadcast((group, n // group, 1, h, w))
    return jt.concat([x, std_map.reshape(n, 1, h, w)], 1)


class ConvBlock(nn.Module):
    """Discriminator block: conv + LeakyReLU, then (blur, conv, downsample) + LeakyReLU.

    rosinality's first conv changes the channel count; the official one keeps it and the
    second conv changes it (mid_channels = in_channels)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, padding=1,
                 kernel_size2=None, padding2=None, downsample=False, fused=False,
                 mid_channels=None):
        kernel_size2 = kernel_size if kernel_size2 is None else kernel_size2
        padding2 = padding if padding2 is None else padding2
        mid = out_channels if mid_channels is None else mid_channels
        self.conv1 = nn.Sequential(
            EqualConv2d(in_channels, mid, kernel_size, padding), LeakyReLU())
        if downsample and fused:
            self.conv2 = nn.Sequential(
                Blur(mid), FusedDownsample(mid, out_channels, kernel_size2, padding2), LeakyReLU())
        elif downsample:
            self.conv2 = nn.Sequential(
                Blur(mid), EqualConv2d(mid, out_channels, kernel_size2, padding2,
                                       resample="down"), LeakyReLU())
        else:
            self.conv2 = nn.Sequential(
                EqualConv2d(mid, out_channels, kernel_size2, padding2), LeakyReLU())

    def execute(self, x):
        return self.conv2(self.conv1(x))


class Discriminator(nn.Module):
    """Progressive discriminator; progression[0] reads the largest size (1024 px with the
    default table), the last block ends at 4x4. `channels` lists channels per resolution
    from 4 px up, as for Generator; official_blocks changes channels in each block's
    second conv, as NVIDIA's D does."""

    def __init__(self, fused=True, from_rgb_activate=False, width=512, stddev_group=0,
                 channels=None, official_blocks=False):
        channels = list(channels or scaled_channels(width))[::-1]  # largest size first
        self.n_blocks = len(channels)
        blocks = [ConvBlock(channels[i], channels[i + 1], 3, 1, downsample=True,
                            fused=fused and self.n_blocks - 1 - i >= FUSED_FROM_STEP,
                            mid_channels=channels[i] if official_blocks else None)
                  for i in range(self.n_blocks - 1)]
        blocks.append(ConvBlock(channels[-1] + 1, channels[-1], 3, 1, 4, 0))
        self.progression = nn.ModuleList(*blocks)

        def make_from_rgb(out_channels):
            if from_rgb_activate:
                return nn.Sequential(EqualConv2d(3, out_channels, 1), LeakyReLU())
            return EqualConv2d(3, out_channels, 1)

        self.from_rgb = nn.ModuleList(*[make_from_rgb(c) for c in channels])
        self.linear = EqualLinear(channels[-1], 1)
        self.stddev_group = stddev_group

    def modules_in_use(self, step, alpha):
        """The modules execute(step=step, alpha=alpha) runs."""
        top = self.n_blocks - 1 - step
        used = list(self.progression)[top:] + [self.from_rgb[top], self.linear]
        return used + [self.from_rgb[top + 1]] if fading(step, alpha) else used

    def execute(self, input, step=0, alpha=-1):
        last = self.n_blocks - 1
        top = last - step
        out = self.from_rgb[top](input)
        for index in range(top, self.n_blocks):
            if index == last:
                out = minibatch_stddev(out, self.stddev_group)
            out = self.progression[index](out)
            if index == top and fading(step, alpha):
                out = fade(self.from_rgb[top + 1](avg_pool2(input)), out, alpha)
        return self.linear(out.reshape(out.shape[0], -1))
