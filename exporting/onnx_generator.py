"""The EMA generator at one resolution as an ONNX graph: mapping network (for z input),
truncation around the w average, synthesis; dynamic batch size.

Every equalising multiplier is folded into the stored weights, so the graph is plain Conv,
ConvTranspose, MatMul and elementwise operators (opset 17), and it carries whichever layout
the model has (rosinality's or NVIDIA's: a noise map per layer, the bias after the blur,
instance-norm epsilon). Noise maps are fixed constants of the graph (the file's own for
NVIDIA's pickles, else drawn from a seed), one (1, 1, H, W) map per block or layer that every
image of a batch shares, as NVIDIA's Gs.run(..., randomize_noise=False) draws; export again
with another seed for other maps.
"""
import numpy as np

from cli import UsageError
from convolution import blur_kernel
from model import ConstantInput, FusedUpsample, fading

OPSET = 17
INPUTS = ("z", "w", "w+")


def onnx_modules():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise UsageError("exporting to ONNX needs the onnx package; run: "
                         "pip install --no-deps -r requirements-export.txt") from None
    return onnx, TensorProto, helper, numpy_helper


class GraphBuilder:
    """Nodes and initialisers, each value named once."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers, self.count = [], [], 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def constant(self, array, stem="const", name=None):
        name = name or self.name(stem)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, kind, inputs, stem=None, **attributes):
        output = self.name(stem or kind.lower())
        self.nodes.append(self.helper.make_node(kind, list(inputs), [output], **attributes))
        return output


def weight(var):
    return var.numpy().astype(np.float32)


def equalised(module):
    """The weight a hooked (equalised) layer uses: stored times its multiplier."""
    return weight(module.equal_lr.scaled(module))


def linear(graph, x, equal_linear):
    layer = equal_linear.linear
    matrix = graph.constant(equalised(layer).T.copy(), "linear_weight")
    return graph.op("Add", [graph.op("MatMul", [x, matrix]),
                            graph.constant(weight(layer.bias), "linear_bias")])


def conv(graph, x, conv_layer, weight_array, padding):
    inputs = [x, graph.constant(weight_array, "conv_weight")]
    if conv_layer.bias is not None:
        inputs.append(graph.constant(weight(conv_layer.bias), "conv_bias"))
    return graph.op("Conv", inputs, pads=[padding] * 4)


def equal_conv(graph, x, equal_conv2d):
    layer = equal_conv2d.conv
    if layer.resample == "up":
        x = upsample(graph, x)
    return conv(graph, x, layer, equalised(layer), layer.padding)


def upsample(graph, x):
    scales = graph.constant(np.array([1, 1, 2, 2], np.float32), "scales")
    return graph.op("Resize", [x, "", scales], mode="nearest",
                    coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def blur(graph, x, channels):
    kernel = graph.constant(blur_kernel(channels).numpy(), "blur")
    return graph.op("Conv", [x, kernel], pads=[1, 1, 1, 1], group=channels)


def fused_upsample(graph, x, module):
    folded = weight(module.fused_weight())  # the 4x4 kernel of the four averaged shifts
    inputs = [x, graph.constant(folded, "fused_weight")]
    if module.bias is not None:
        inputs.append(graph.constant(weight(module.bias), "fused_bias"))
    return graph.op("ConvTranspose", inputs, strides=[2, 2], pads=[module.padding] * 4)


def first_conv(graph, x, conv1, batch_shape, channels):
    """A block's conv1: the constant, or upsampling conv, blur and (NVIDIA's) bias."""
    if isinstance(conv1, ConstantInput):
        constant = graph.constant(weight(conv1.input), "constant_input")
        shape = graph.op("Concat", [batch_shape, graph.constant(
            np.array(conv1.input.shape[1:], np.int64), "shape")], axis=0)
        return graph.op("Expand", [constant, shape])
    for layer in conv1:
        kind = type(layer).__name__
        if kind == "Identity":
            continue
        if isinstance(layer, FusedUpsample):
            x = fused_upsample(graph, x, layer)
        elif kind == "EqualConv2d":
            x = equal_conv(graph, x, layer)
        elif kind == "Blur":
            x = blur(graph, x, channels)
        elif kind == "ChannelBias":
            x = graph.op("Add", [x, graph.constant(weight(layer.bias).reshape(1, -1, 1, 1))])
        else:
            raise UsageError(f"cannot export a {kind} layer to ONNX")
    return x


def adain(graph, x, module, style, channels):
    normalised = graph.op("InstanceNormalization", [
        x, graph.constant(np.ones(channels, np.float32)),
        graph.constant(np.zeros(channels, np.float32))], epsilon=float(module.eps))
    gamma_beta = graph.op("Reshape", [linear(graph, style, module.style),
                                      graph.constant(np.array([-1, 2, channels, 1, 1], np.int64))])
    parts = [graph.op("Squeeze", [graph.op("Slice", [
        gamma_beta, graph.constant(np.array([k], np.int64)),
        graph.constant(np.array([k + 1], np.int64)), graph.constant(np.array([1], np.int64))]),
        graph.constant(np.array([1], np.int64))]) for k in (0, 1)]
    return graph.op("Add", [graph.op("Mul", [parts[0], normalised]), parts[1]])


def noise_injection(graph, x, module, noise):
    strength = equalised(module).reshape(1, -1, 1, 1)
    return graph.op("Add", [x, graph.op("Mul", [graph.constant(strength, "noise_strength"),
                                                noise])])


def styled_block(graph, x, block, styles, noises, batch_shape, channels):
    out = first_conv(graph, x, block.conv1, batch_shape, channels)
    for index, (noise_module, adain_module) in enumerate(((block.noise1, block.adain1),
                                                          (block.noise2, block.adain2))):
        if index == 1:
            out = equal_conv(graph, out, block.conv2)
        out = noise_injection(graph, out, noise_module, noises[index])
        out = graph.op("LeakyRelu", [out], alpha=0.2)
        out = adain(graph, out, adain_module, styles[index], channels)
    return out


def mapping(graph, z, style):
    """PixelNorm, then the equalised linears with LeakyReLU."""
    squared_mean = graph.op("ReduceMean", [graph.op("Mul", [z, z])], axes=[1], keepdims=1)
    x = graph.op("Div", [z, graph.op("Sqrt", [graph.op("Add", [
        squared_mean, graph.constant(np.array(1e-8, np.float32))])])])
    for layer in style:
        kind = type(layer).__name__
        if kind == "EqualLinear":
            x = linear(graph, x, layer)
        elif kind == "LeakyReLU":
            x = graph.op("LeakyRelu", [x], alpha=0.2)
    return x


def build_graph(generator, step, alpha, input_kind, mean, psi, cutoff, noise_maps, model_name):
    """An onnx.ModelProto of the generator at (step, alpha)."""
    onnx, TensorProto, helper, numpy_helper = onnx_modules()
    graph = GraphBuilder(helper, numpy_helper)
    synthesis = generator.generator
    code_dim = generator.w_avg.shape[0]
    n_layers = 2 * (step + 1)
    if input_kind == "w+":
        latent = helper.make_tensor_value_info("w_plus", TensorProto.FLOAT,
                                               ["batch", n_layers, code_dim])
        latent_name = "w_plus"
    else:
        latent = helper.make_tensor_value_info(input_kind, TensorProto.FLOAT, ["batch", code_dim])
        latent_name = input_kind
    inputs = [latent]
    batch_shape = graph.op("Slice", [graph.op("Shape", [latent_name]),
                                     graph.constant(np.array([0], np.int64)),
                                     graph.constant(np.array([1], np.int64))])
    if input_kind == "w+":
        layer_styles = [graph.op("Gather", [latent_name, graph.constant(np.array(layer, np.int64))],
                                 axis=1) for layer in range(n_layers)]
    else:
        w = mapping(graph, latent_name, generator.style) if input_kind == "z" else latent_name
        layer_styles = [w] * n_layers
    if psi != 1:
        centre = graph.constant(np.asarray(mean, np.float32).reshape(1, -1), "w_avg")
        truncated = {}
        for layer, style in enumerate(layer_styles):
            if cutoff is not None and layer >= cutoff:
                continue
            if style not in truncated:
                truncated[style] = graph.op("Add", [centre, graph.op("Mul", [
                    graph.constant(np.array(psi, np.float32), "psi"),
                    graph.op("Sub", [style, centre])])])
            layer_styles[layer] = truncated[style]
    noise_names = [graph.constant(np.asarray(maps[:1], np.float32), name=f"noise_{index}")
                   for index, maps in enumerate(noise_maps)]
    channels = [block.adain1.style.linear.bias.shape[0] // 2 for block in synthesis.progression]
    out = previous = None
    for block in range(step + 1):
        previous = out
        noises = synthesis.block_noise(noise_names, block)
        out = styled_block(graph, out, synthesis.progression[block],
                           layer_styles[2 * block:2 * block + 2], noises, batch_shape,
                           channels[block])
    rgb = equal_conv(graph, out, synthesis.to_rgb[step])
    if fading(step, alpha):
        skip = upsample(graph, equal_conv(graph, previous, synthesis.to_rgb[step - 1]))
        rgb = graph.op("Add", [graph.op("Mul", [skip, graph.constant(np.array(1 - alpha, np.float32))]),
                               graph.op("Mul", [rgb, graph.constant(np.array(alpha, np.float32))])])
    if synthesis.grey:
        mean_channel = graph.op("ReduceMean", [rgb], axes=[1], keepdims=1)
        rgb = graph.op("Concat", [mean_channel] * 3, axis=1)
    graph.nodes.append(helper.make_node("Identity", [rgb], ["image"]))
    size = 4 * 2**step
    output = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, size, size])
    body = helper.make_graph(graph.nodes, model_name, inputs, [output], graph.initializers)
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="stylegan-jittor")
    model.ir_version = 8  # onnxruntime reads IR 8 with opset 17 from 1.14 on
    onnx.checker.check_model(model)
    return model


def export_onnx(path, target, size=None, truncation=1.0, input_kind="z", cutoff=None, seed=0):
    """Write the EMA generator of any checkpoint as ONNX; returns (resolution, bytes)."""
    import os

    from formats.checkpoints import load_generator
    from rendering import choose_size, make_noise, mean_style, stored_noise

    onnx = onnx_modules()[0]
    generator, checkpoint = load_generator(path, unconditional_only="the ONNX export")
    step, alpha = choose_size(size, checkpoint, path)
    rng = np.random.RandomState(seed)
    maps = stored_noise(None, checkpoint, path) or make_noise(
        rng, 1, step, generator.generator.noise_per_layer)
    used = (step + 1) * (2 if generator.generator.noise_per_layer else 1)
    mean = mean_style(generator, checkpoint, rng).numpy().reshape(-1) if truncation != 1 else None
    model = build_graph(generator, step, alpha, input_kind, mean, truncation, cutoff,
                        maps[:used], os.path.splitext(os.path.basename(path))[0])
    temp_path = target + ".tmp"
    onnx.save(model, temp_path)
    os.replace(temp_path, target)
    return 4 * 2**step, os.path.getsize(target)
