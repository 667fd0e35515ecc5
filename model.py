"""StyleGAN (v1) generator and discriminator in Jittor.

Module layout and parameter names follow rosinality's style-based-gan-pytorch (and so
StyleGAN-jittor's), so their checkpoints load as they are. `width` scales every channel
count (512 = the full-size model) so tests and CPU demos can run narrow models.
"""
import math
import random

import numpy as np

import convolution
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
        module.equal_lr = self  # for readers of the scaled weight (the ONNX export)
        module.register_pre_forward_hook(self)
        module.register_forward_hook(self.drop_scaled_weight)

    def scaled(self, module):
        """The weight the layer computes with: the stored one times the multiplier."""
        return getattr(module, self.name + "_orig") * self.multiplier

    def __call__(self, module, args):
        setattr(module, self.name, self.scaled(module))

    def drop_scaled_weight(self, module, args, output):
        delattr(module, self.name)


def equal_lr(module, name="weight"):
    EqualLR(module, name)
    return module


class Linear(nn.Module):
    def __init__(self, in_dim, out_dim):
        self.weight = jt.randn(out_dim, in_dim)
        self.bias = jt.zeros(out_dim)

    def execute(self, x):
        return nn.matmul_transpose(x, self.weight) + self.bias


class Conv2d(nn.Module):
    """A conv; with resample "up" it reads nearest-upsampled x2 input, with "down" its
    output is 2x2-average-pooled (3x3 kernels, padding 1); see convolution/ for how."""

    def __init__(self, in_channels, out_channels, kernel_size, padding=0, bias=True,
                 resample=None):
        assert resample is None or (kernel_size, padding) == (3, 1)
        self.weight = jt.randn(out_channels, in_channels, kernel_size, kernel_size)
        self.bias = jt.zeros(out_channels) if bias else None
        self.padding = padding
        self.resample = resample

    def execute(self, x):
        if self.resample == "up":
            return convolution.conv2d_upsampled(x, self.weight, self.bias)
        if self.resample == "down":
            return convolution.conv2d_pooled(x, self.weight, self.bias)
        return convolution.conv2d(x, self.weight, self.bias, 1, self.padding)


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


class Blur(nn.Module):
    def __init__(self, channels=None):
        pass  # the kernel is fixed; no state, so nothing extra in the state_dict

    def execute(self, x):
        return convolution.blur(x)


class FusedScaleConv(nn.Module):
    """A 3x3 kernel with its own equalising multiplier (no EqualLR hook, as in both
    projects), padded to 4x4 with its four shifts averaged for a stride-2 conv."""

    def __init__(self, weight_shape, in_channels, out_channels, kernel_size, padding, bias=True):
        self.weight = jt.randn(*weight_shape)
        self.bias = jt.zeros(out_channels) if bias else None
        self.multiplier = math.sqrt(2 / (in_channels * kernel_size * kernel_size))
        self.padding = padding

    def fused_weight(self):
        return convolution.average_kernel_shifts(self.weight * self.multiplier)


class FusedUpsample(FusedScaleConv):
    """Upsample x2 and 3x3 conv as one stride-2 transposed conv (weight: in, out, k, k)."""

    def __init__(self, in_channels, out_channels, kernel_size, padding=0, bias=True):
        super().__init__((in_channels, out_channels, kernel_size, kernel_size),
                         in_channels, out_channels, kernel_size, padding, bias)

    def execute(self, x):
        return convolution.conv_transpose2d(x, self.fused_weight(), self.bias, 2, self.padding)


class FusedDownsample(FusedScaleConv):
    """3x3 conv and 2x2 average pool as one stride-2 conv (weight: out, in, k, k)."""

    def __init__(self, in_channels, out_channels, kernel_size, padding=0):
        super().__init__((out_channels, in_channels, kernel_size, kernel_size),
                         in_channels, out_channels, kernel_size, padding)

    def execute(self, x):
        return convolution.conv2d(x, self.fused_weight(), self.bias, 2, self.padding)


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
            rgb = fade(convolution.upsample_nearest(self.to_rgb[step - 1](previous)), rgb, alpha)
        return grey_image(rgb) if self.grey else rgb


def crossover_styles(styles, step, mixing_range=(-1, -1), crossover="block"):
    """Which latent's w drives each AdaIN layer (two per block).

    With a mixing_range (a, b), blocks a..b take styles[1] and the rest styles[0].
    Otherwise, for random mixing regularisation, the switch points between consecutive
    styles are drawn at random: with crossover "block" (rosinality) among the blocks below
    `step`, so that whole blocks switch and at step 0 there is none; with "layer" (official,
    two styles) among the layers in use, 1 .. 2 * (step + 1) - 1, so that a block's two
    layers may take different styles, at 4 px too.
    """
    if tuple(mixing_range) != (-1, -1):
        low, high = mixing_range
        return [styles[1] if low <= layer // 2 <= high else styles[0]
                for layer in range(2 * N_BLOCKS)]
    if crossover == "layer" and len(styles) == 2:
        cutoff = random.randrange(1, 2 * (step + 1))
        return [styles[layer >= cutoff] for layer in range(2 * N_BLOCKS)]
    switches = sorted(random.sample(range(step), min(len(styles) - 1, step)))
    return [styles[sum(layer // 2 > s for s in switches)] for layer in range(2 * N_BLOCKS)]


def one_hot(labels, n_classes):
    """(N, n_classes) float32 rows of 0 and 1 from N class numbers (a Var or array-like)."""
    if not isinstance(labels, jt.Var):
        labels = jt.array(np.asarray(labels, dtype=np.int32).reshape(-1))
    return (labels.reshape(-1, 1) == jt.arange(n_classes).reshape(1, -1)).float32()


class LabelEmbedding(nn.Module):
    """The official G_mapping's LabelConcat: z joined by the one-hot label times a
    (classes x latent) matrix drawn from N(0, 1) and used as it is (no equalised learning
    rate, no mapping learning-rate multiplier), before the pixel norm."""

    def __init__(self, n_classes, code_dim):
        self.n_classes = n_classes
        self.weight = jt.randn(n_classes, code_dim)

    def execute(self, z, labels):
        return jt.concat([z, jt.matmul(one_hot(labels, self.n_classes), self.weight)], 1)


class StyledGenerator(nn.Module):
    """Mapping network (PixelNorm + n_mlp equalised linears) and synthesis network.

    Called like rosinality's / StyleGAN-jittor's StyledGenerator. `w_avg` is the moving
    average of w tracked during training, used as the truncation centre when set. With
    n_classes (conditional, as NVIDIA's label_size), every call takes `labels`.
    """

    def __init__(self, code_dim=512, n_mlp=8, width=512, fused=True, grey=False, channels=None,
                 noise_per_layer=False, norm_eps=1e-5, bias_after_blur=False, n_classes=0):
        self.generator = Generator(code_dim, width, fused, grey, channels, noise_per_layer,
                                   norm_eps, bias_after_blur)
        self.n_classes = n_classes
        self.label_embed = LabelEmbedding(n_classes, code_dim) if n_classes else None
        layers = [PixelNorm()]
        for index in range(n_mlp):
            in_dim = 2 * code_dim if n_classes and index == 0 else code_dim
            layers += [EqualLinear(in_dim, code_dim), LeakyReLU()]
        self.style = nn.Sequential(*layers)
        self.w_avg = jt.zeros(code_dim).stop_grad()

    def modules_in_use(self, step, alpha):
        embedding = [self.label_embed] if self.n_classes else []
        return embedding + [self.style] + self.generator.modules_in_use(step, alpha)

    def mapping(self, z, labels=None):
        """w of latents z (and, conditional, of their classes)."""
        if self.n_classes:
            if labels is None:
                raise ValueError("a conditional generator needs labels")
            z = self.label_embed(z, labels)
        return self.style(z)

    def execute(self, input, noise=None, step=0, alpha=-1, mean_style=None, style_weight=0,
                mixing_range=(-1, -1), truncation_cutoff=None, crossover="block", labels=None):
        latents = list(input) if isinstance(input, (list, tuple)) else [input]
        styles = [self.mapping(z, labels) for z in latents]
        return self.synthesize(styles, noise, step, alpha, mean_style, style_weight,
                               mixing_range, truncation_cutoff, crossover)

    def synthesize(self, styles, noise=None, step=0, alpha=-1, mean_style=None, style_weight=0,
                   mixing_range=(-1, -1), truncation_cutoff=None, crossover="block"):
        """Images from w vectors (one per latent, as mixed by crossover_styles)."""
        if noise is None:
            noise = self.make_noise(styles[0].shape[0], step)
        layer_styles = crossover_styles(styles, step, mixing_range, crossover)
        if mean_style is not None:
            layer_styles = truncate(layer_styles, mean_style, style_weight, truncation_cutoff)
        return self.generator(layer_styles, noise, step, alpha)

    def make_noise(self, batch, step):
        per_block = 2 if self.generator.noise_per_layer else 1
        return [jt.randn(batch, 1, 4 * 2**block, 4 * 2**block)
                for block in range(step + 1) for _ in range(per_block)]

    def mean_style(self, input, labels=None):
        return self.mapping(input, labels).mean(0, keepdims=True)

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
                 channels=None, official_blocks=False, n_classes=0):
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
        # conditional: one score per class, the label's taken (NVIDIA's D_basic, after Mescheder
        # et al. 2018)
        self.n_classes = n_classes
        self.linear = EqualLinear(channels[-1], max(n_classes, 1))
        self.stddev_group = stddev_group

    def modules_in_use(self, step, alpha):
        """The modules execute(step=step, alpha=alpha) runs."""
        top = self.n_blocks - 1 - step
        used = list(self.progression)[top:] + [self.from_rgb[top], self.linear]
        return used + [self.from_rgb[top + 1]] if fading(step, alpha) else used

    def frozen_modules(self, step, count):
        """FreezeD: the `count` highest-resolution blocks in use at `step` (those nearest the
        image) and the from_rgb layers that feed them."""
        top = self.n_blocks - 1 - step
        blocks = range(top, min(top + count, self.n_blocks))
        return ([self.progression[index] for index in blocks]
                + [self.from_rgb[index] for index in blocks])

    def execute(self, input, step=0, alpha=-1, labels=None):
        last = self.n_blocks - 1
        top = last - step
        out = self.from_rgb[top](input)
        for index in range(top, self.n_blocks):
            if index == last:
                out = minibatch_stddev(out, self.stddev_group)
            out = self.progression[index](out)
            if index == top and fading(step, alpha):
                out = fade(self.from_rgb[top + 1](convolution.avg_pool2(input)), out, alpha)
        scores = self.linear(out.reshape(out.shape[0], -1))
        if not self.n_classes:
            return scores
        if labels is None:
            raise ValueError("a conditional discriminator needs labels")
        return (scores * one_hot(labels, self.n_classes)).sum(1, keepdims=True)
