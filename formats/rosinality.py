"""Our checkpoints in rosinality's format: the file its train.py saves (`generator`,
`discriminator`, `g_running`, `g_optimizer`, `d_optimizer`), in PyTorch's zip layout, written
without PyTorch, which its generate.py draws from and its train.py --ckpt continues.

Rosinality's model has one shape (512 channels, z of 512, 8 mapping layers, one noise map per
block, its own D blocks): anything else is refused in one line, never written as a file that
loads but computes something else. Its state_dicts also hold the blur kernels (buffers ours
computes), and its Adam keeps a step count per parameter, as ours does.
"""
from collections import OrderedDict

import numpy as np

from cli import UsageError
from convolution import blur_kernel
from model import FUSED_FROM_STEP, N_BLOCKS

ROSINALITY_SHAPE = {"width": 512, "code_dim": 512, "n_mlp": 8, "n_classes": 0}  # no labels
ADAM_DEFAULTS = {"betas": (0.0, 0.99), "eps": 1e-08, "weight_decay": 0, "amsgrad": False,
                 "maximize": False, "foreach": None, "capturable": False,
                 "differentiable": False, "fused": None}


def blur_positions(state, part):
    """{module name: channels} of rosinality's Blur modules (buffers weight, weight_flip)."""
    if part == "discriminator":
        return {f"progression.{i}.conv2.0": state[f"progression.{i}.conv1.0.conv.weight_orig"].shape[0]
                for i in range(N_BLOCKS - 1)}
    return {f"generator.progression.{b}.conv1.{2 if b < FUSED_FROM_STEP else 1}":
            state[f"generator.progression.{b}.noise1.weight_orig"].shape[1]
            for b in range(1, N_BLOCKS)}


def with_blur_buffers(state, part):
    """The state_dict in rosinality's key order: ours (which follows it) without w_avg, each
    Blur's two buffers after the keys of the modules before it in its Sequential."""
    keys = [key for key in state if key != "w_avg"]
    for name, channels in blur_positions(state, part).items():
        parent, index = name.rsplit(".", 1)
        before = [i for i, key in enumerate(keys)
                  if key.startswith(parent + ".") and int(key[len(parent) + 1:].split(".")[0]) < int(index)]
        at = before[-1] + 1 if before else next(i for i, k in enumerate(keys) if k.startswith(parent + "."))
        keys[at:at] = [f"{name}.weight", f"{name}.weight_flip"]
    # the kernel is symmetric: rosinality's weight_flip holds the same values as its weight
    blur = {f"{name}.{leaf}": blur_kernel(channels).numpy()
            for name, channels in blur_positions(state, part).items()
            for leaf in ("weight", "weight_flip")}
    return OrderedDict((key, np.asarray(blur[key] if key in blur else state[key], np.float32))
                       for key in keys)


def torch_adam_state(saved, offsets, lrs):
    """Our optimizer state (per group: m, v, step counts) as PyTorch's Adam.state_dict():
    parameters numbered across groups in order; state only for those that took a step."""
    state, groups = OrderedDict(), []
    for group, offset, (lr, extra) in zip(saved["groups"], offsets, lrs):
        indices = list(range(offset, offset + len(group["values"])))
        counts = group.get("steps") or [  # files before the per-parameter count
            int(saved["n_step"]) if np.any(np.asarray(v) != 0) else 0 for v in group["values"]]
        for index, m, v, steps in zip(indices, group["m"], group["values"], counts):
            if steps:
                state[index] = {"step": np.array(float(steps), np.float32),
                                "exp_avg": np.asarray(m, np.float32),
                                "exp_avg_sq": np.asarray(v, np.float32)}
        groups.append({"lr": lr, **ADAM_DEFAULTS, **extra, "params": indices})
    return {"state": state, "param_groups": groups}


def check_shape(checkpoint, g_state, path):
    from formats.checkpoints import architecture_of, infer_generator_config

    if architecture_of(checkpoint):
        raise UsageError(f"{path}: rosinality's model cannot hold NVIDIA's layout (a noise "
                         f"map per layer, the up-conv's bias after the blur, instance-norm eps "
                         f"1e-8, its D blocks) and would draw other images; export the "
                         f"generator to ONNX instead (checkpoint.py export)")
    shape = infer_generator_config(g_state)
    different = [f"{key} {shape[key]} (rosinality's: {value})"
                 for key, value in ROSINALITY_SHAPE.items() if shape[key] != value]
    if different:
        raise UsageError(f"{path}: rosinality's model has one shape; this one differs in "
                         f"{', '.join(different)}")
    if (checkpoint.get("meta") or {}).get("grey"):
        raise UsageError(f"{path}: a grey generator (it averages its three channels); "
                         f"rosinality's would draw colour")


def rosinality_checkpoint(checkpoint, path):
    """What rosinality's train.py saves, from any checkpoint we read that has its shape."""
    from formats.checkpoints import generator_state

    g_state = generator_state(checkpoint, path, prefer_ema=False)
    check_shape(checkpoint, g_state, path)
    out = {"generator": with_blur_buffers(g_state, "generator"),
           "g_running": with_blur_buffers(generator_state(checkpoint, path), "generator")}
    if "discriminator" in checkpoint:  # without from_rgb's activation: rosinality's
        # train.py takes it with --no_from_rgb_activate
        out["discriminator"] = with_blur_buffers(checkpoint["discriminator"], "discriminator")
    if "discriminator" not in checkpoint:
        return out  # its generate.py reads this; its train.py also needs a discriminator
    synthesis = [key for key in g_state if key.startswith("generator.")]
    mapping = [key for key in g_state if key.startswith("style.")]
    saved = checkpoint.get("g_optimizer") or {}
    if "groups" in saved:  # ours: the moments and step counts
        groups = saved["groups"]
        out["g_optimizer"] = torch_adam_state(saved, (0, len(groups[0]["values"])),
                                              [(groups[0]["lr"], {}),
                                               (groups[1]["lr"], {"mult": 0.01})])
        out["d_optimizer"] = torch_adam_state(checkpoint["d_optimizer"], (0,),
                                              [(checkpoint["d_optimizer"]["groups"][0]["lr"], {})])
    else:  # no state to carry: Adams that have taken no step, as its train.py builds them
        out["g_optimizer"] = fresh_adam([(len(synthesis), 0.001, {}),
                                         (len(mapping), 0.001 * 0.01, {"mult": 0.01})])
        out["d_optimizer"] = fresh_adam([(len(checkpoint["discriminator"]), 0.001, {})])
    return out


def fresh_adam(groups):
    """PyTorch's Adam.state_dict() before its first step: parameters numbered across the
    groups, no state."""
    param_groups, offset = [], 0
    for count, lr, extra in groups:
        param_groups.append({"lr": lr, **ADAM_DEFAULTS, **extra,
                             "params": list(range(offset, offset + count))})
        offset += count
    return {"state": {}, "param_groups": param_groups}
