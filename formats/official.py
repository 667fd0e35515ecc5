"""NVIDIA's official StyleGAN pickles (karras2019stylegan-*.pkl), read without TensorFlow.

Such a file is `pickle.dump((G, D, Gs))` of dnnlib Network objects. Each Network pickles
as a state dict: name, static_kwargs, components (sub-networks), build_module_src (the
networks' Python source, which we never execute) and its variables as (name, array) pairs.
"""
import numpy as np

from formats.safe_pickle import FileFormatError
from model import FUSED_FROM_STEP

NETWORK_KEYS = {"version", "name", "static_kwargs", "components", "build_func_name", "variables"}


class Network:
    """Stands in for dnnlib.tflib.network.Network: keeps the state, builds nothing."""

    def __setstate__(self, state):
        if not isinstance(state, dict) or not NETWORK_KEYS <= set(state):
            raise FileFormatError("malformed dnnlib Network in the file")
        self.state = state

    def plain(self, convert):
        state = getattr(self, "state", None)
        if state is None:
            raise FileFormatError("dnnlib Network without its state in the file")
        variables = convert(state["variables"])
        if not isinstance(variables, (list, tuple)) or not all(
                isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in variables):
            raise FileFormatError("malformed variable list in a dnnlib Network")
        return {"__class__": "dnnlib.Network", "name": str(state["name"]),
                "build_func_name": str(state["build_func_name"]),
                "static_kwargs": convert(state["static_kwargs"]),
                "components": convert(state["components"]),
                "variables": dict(variables)}


OFFICIAL_GLOBALS = {("dnnlib.tflib.network", "Network"): Network}


def is_network(obj):
    return isinstance(obj, dict) and obj.get("__class__") == "dnnlib.Network"


def is_official(obj):
    """True for the (G, D, Gs) triple an official pickle holds."""
    return isinstance(obj, tuple) and len(obj) == 3 and all(is_network(n) for n in obj)


SQRT2 = np.sqrt(2.0)
MAPPING_LRMUL = 0.01


def conv_weight(kernel):
    """[kh, kw, in, out] -> [out, in, kh, kw]."""
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def _variables(network, what):
    variables = network["variables"]
    if not all(isinstance(v, np.ndarray) or np.isscalar(v) for v in variables.values()):
        raise FileFormatError(f"{what}: a variable is not an array")
    return variables


def _get(variables, name, what):
    if name not in variables:
        raise FileFormatError(f"{what} has no variable {name} (not a StyleGAN v1 network)")
    return np.asarray(variables[name], dtype=np.float32)


def generator_architecture(gs):
    """Channels per resolution, latent size and mapping depth, read from the variables."""
    synthesis = gs["components"].get("synthesis")
    mapping = gs["components"].get("mapping")
    if not (is_network(synthesis) and is_network(mapping)):
        raise FileFormatError("the generator lacks its synthesis or mapping network")
    variables = synthesis["variables"]
    channels = []
    while True:
        res = 4 * 2**len(channels)
        name = "4x4/Const/const" if res == 4 else f"{res}x{res}/Conv1/weight"
        if name not in variables:
            break
        channels.append(int(np.shape(variables[name])[1 if res == 4 else 3]))
    dense = [name for name in mapping["variables"] if name.endswith("/weight")]
    if not channels or not dense:
        raise FileFormatError("not a StyleGAN v1 generator (no Const or mapping layers)")
    embedding = mapping["variables"].get("LabelConcat/weight")
    dense = [name for name in dense if name != "LabelConcat/weight"]
    n_classes = int(np.shape(embedding)[0]) if embedding is not None else 0
    code_dim = int(np.shape(mapping["variables"][dense[-1]])[1]) if dense else 0
    inputs = [2 * code_dim if n_classes and k == 0 else code_dim for k in range(len(dense))]
    if any(np.shape(mapping["variables"][name]) != (n_in, code_dim)
           for name, n_in in zip(dense, inputs)):
        raise FileFormatError("mapping layers of different widths are not supported")
    if n_classes and np.shape(embedding) != (n_classes, code_dim):
        raise FileFormatError("a label embedding of another width than the latent")
    return {"channels": channels, "code_dim": code_dim, "n_mlp": len(dense),
            "n_classes": n_classes}


def generator_state(gs, architecture, what):
    """Our StyledGenerator's state_dict (rosinality's names) from G or Gs, exactly equivalent:
    gains, the mapping's lr multiplier, the style's +1 and the constant's bias are folded
    into the stored values (for fine-tuning, their learning rates follow ours)."""
    synthesis = _variables(gs["components"]["synthesis"], what)
    mapping = _variables(gs["components"]["mapping"], what)
    channels = architecture["channels"]
    state = {}
    if architecture.get("n_classes"):  # used as it is, in both (no gain, no lr multiplier)
        state["label_embed.weight"] = _get(mapping, "LabelConcat/weight", what)
    for layer in range(architecture["n_mlp"]):
        prefix = f"style.{2 * layer + 1}.linear"
        state[f"{prefix}.weight_orig"] = _get(mapping, f"Dense{layer}/weight", what).T * MAPPING_LRMUL
        state[f"{prefix}.bias"] = _get(mapping, f"Dense{layer}/bias", what) * MAPPING_LRMUL
    for block, out_channels in enumerate(channels):
        res = 4 * 2**block
        ours = f"generator.progression.{block}"
        names = ("4x4/Const", "4x4/Conv") if block == 0 else (f"{res}x{res}/Conv0_up",
                                                               f"{res}x{res}/Conv1")
        if block == 0:
            const = _get(synthesis, "4x4/Const/const", what)
            state[f"{ours}.conv1.input"] = const + _get(synthesis, "4x4/Const/bias", what).reshape(1, -1, 1, 1)
        else:
            kernel = _get(synthesis, f"{names[0]}/weight", what)
            bias = _get(synthesis, f"{names[0]}/bias", what)
            if block >= FUSED_FROM_STEP:  # official sums the 4 shifts where ours averages
                state[f"{ours}.conv1.0.weight"] = np.ascontiguousarray(kernel.transpose(2, 3, 0, 1)) * 4
                state[f"{ours}.conv1.2.bias"] = bias  # after the blur (bias_after_blur)
            else:
                state[f"{ours}.conv1.1.conv.weight_orig"] = conv_weight(kernel)
                state[f"{ours}.conv1.3.bias"] = bias
        state[f"{ours}.conv2.conv.weight_orig"] = conv_weight(_get(synthesis, f"{names[1]}/weight", what))
        state[f"{ours}.conv2.conv.bias"] = _get(synthesis, f"{names[1]}/bias", what)
        noise_gain = np.sqrt(2.0 / out_channels)  # ours scales the stored strength by it
        for layer, name in enumerate(names, start=1):
            state[f"{ours}.noise{layer}.weight_orig"] = (
                _get(synthesis, f"{name}/Noise/weight", what).reshape(1, -1, 1, 1) / noise_gain)
            style_weight = _get(synthesis, f"{name}/StyleMod/weight", what)
            style_bias = _get(synthesis, f"{name}/StyleMod/bias", what).copy()
            style_bias[:out_channels] += 1  # official: x * (scale + 1); ours: x * scale
            state[f"{ours}.adain{layer}.style.linear.weight_orig"] = style_weight.T / SQRT2
            state[f"{ours}.adain{layer}.style.linear.bias"] = style_bias
        lod = len(channels) - 1 - block
        state[f"generator.to_rgb.{block}.conv.weight_orig"] = (
            conv_weight(_get(synthesis, f"ToRGB_lod{lod}/weight", what)) / SQRT2)
        state[f"generator.to_rgb.{block}.conv.bias"] = _get(synthesis, f"ToRGB_lod{lod}/bias", what)
    if "dlatent_avg" in gs["variables"]:
        state["w_avg"] = _get(gs["variables"], "dlatent_avg", what)
    return state


def discriminator_state(d, channels, what):
    """Our Discriminator's state_dict (official_blocks, from_rgb_activate) from D."""
    variables = _variables(d, what)
    state = {}
    n = len(channels)
    for index in range(n):  # index 0 reads the largest size
        block = n - 1 - index
        res = 4 * 2**block
        rgb = f"FromRGB_lod{index}"
        state[f"from_rgb.{index}.0.conv.weight_orig"] = conv_weight(_get(variables, f"{rgb}/weight", what))
        state[f"from_rgb.{index}.0.conv.bias"] = _get(variables, f"{rgb}/bias", what)
        ours = f"progression.{index}"
        if block == 0:
            state[f"{ours}.conv1.0.conv.weight_orig"] = conv_weight(_get(variables, "4x4/Conv/weight", what))
            state[f"{ours}.conv1.0.conv.bias"] = _get(variables, "4x4/Conv/bias", what)
            dense = _get(variables, "4x4/Dense0/weight", what)  # [C * 16, C_out], NCHW flatten
            state[f"{ours}.conv2.0.conv.weight_orig"] = np.ascontiguousarray(
                dense.T.reshape(dense.shape[1], -1, 4, 4))
            state[f"{ours}.conv2.0.conv.bias"] = _get(variables, "4x4/Dense0/bias", what)
            continue
        state[f"{ours}.conv1.0.conv.weight_orig"] = conv_weight(_get(variables, f"{res}x{res}/Conv0/weight", what))
        state[f"{ours}.conv1.0.conv.bias"] = _get(variables, f"{res}x{res}/Conv0/bias", what)
        kernel = conv_weight(_get(variables, f"{res}x{res}/Conv1_down/weight", what))
        bias = _get(variables, f"{res}x{res}/Conv1_down/bias", what)
        if block >= FUSED_FROM_STEP:
            state[f"{ours}.conv2.1.weight"], state[f"{ours}.conv2.1.bias"] = kernel, bias
        else:
            state[f"{ours}.conv2.1.conv.weight_orig"], state[f"{ours}.conv2.1.conv.bias"] = kernel, bias
    state["linear.linear.weight_orig"] = _get(variables, "4x4/Dense1/weight", what).T / SQRT2
    state["linear.linear.bias"] = _get(variables, "4x4/Dense1/bias", what)
    return state


def noise_maps(gs):
    variables = gs["components"]["synthesis"]["variables"]
    count = sum(1 for name in variables if name.startswith("noise") and name[5:].isdigit())
    return [np.asarray(variables[f"noise{i}"], dtype=np.float32) for i in range(count)]


def to_checkpoint(networks):
    """The (G, D, Gs) of an official pickle as one of our checkpoints (dicts of arrays)."""
    g, d, gs = networks
    try:
        architecture = generator_architecture(gs)
        size = 4 * 2**(len(architecture["channels"]) - 1)
        n_classes = architecture["n_classes"]
        if int(d["static_kwargs"].get("label_size") or 0) != n_classes or \
                int(gs["static_kwargs"].get("label_size") or 0) != n_classes:
            raise FileFormatError("G and D were built for different numbers of labels")
        classes = ({"n_classes": n_classes, "class_names": [str(k) for k in range(n_classes)]}
                   if n_classes else {})
        return {
            "generator": generator_state(g, architecture, "G"),
            "g_running": generator_state(gs, architecture, "Gs"),
            "discriminator": discriminator_state(d, architecture["channels"], "D"),
            "noise": noise_maps(gs),
            "meta": {"size": size, "alpha": 1.0, "grey": False, "source": "official",
                     "architecture": {**architecture, **OFFICIAL_OPTIONS}, **classes},
        }
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as error:
        raise FileFormatError(f"not a StyleGAN v1 network pickle ({type(error).__name__}: "
                              f"{str(error)[:60]})") from None


# how our modules reproduce the official computation exactly
OFFICIAL_OPTIONS = {"noise_per_layer": True, "norm_eps": 1e-8, "bias_after_blur": True,
                    "stddev_group": 4,
                    "from_rgb_activate": True, "official_blocks": True}
