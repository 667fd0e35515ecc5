"""Reading and writing checkpoints of every form users hold.

- ours: a dict (`generator`, `discriminator`, `g_running`, optimizers, progress, args)
  in jt.save's container (pickle + sha1 + trailer), written atomically;
- StyleGAN-jittor: `jt.save` of a state_dict (FFHQ_80000.model) or of a train_step dict;
  its state_dicts carry the computed equalised `weight` next to every `weight_orig`;
- rosinality: `torch.save` files (legacy or zip), read by formats.pt_files without torch;
  its Blur modules store their kernels as `weight` / `weight_flip` buffers.
Every pickle goes through formats.safe_pickle: nothing in a file can run code.
"""
import hashlib
import os
import pickle

import numpy as np

from cli import UsageError
from runtime import jt
from formats.pt_files import is_pt_file, read_pt_file
from formats import official
from formats.official import OFFICIAL_GLOBALS
from formats.safe_pickle import FileFormatError, load_pickle
from model import Discriminator, StyledGenerator

JT_SAVE_TRAILER = b"HCAJSLHD"
# entries a checkpoint may lack: then they keep their initial value
OPTIONAL_KEYS = {"w_avg"}


def to_numpy_tree(obj):
    """Every jt.Var in nested dicts/lists as a NumPy array (so files load without graphs)."""
    if isinstance(obj, jt.Var):
        return obj.numpy()
    if isinstance(obj, dict):
        return type(obj)((key, to_numpy_tree(value)) for key, value in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_numpy_tree(value) for value in obj)
    return obj


def jt_save_container(payload):
    """jt.save's layout: the pickle, its sha1, a fixed trailer (so jt.load reads our files)."""
    return payload + hashlib.sha1(payload).digest() + JT_SAVE_TRAILER


def save_checkpoint(obj, path):
    """Write atomically: a crash mid-write leaves any previous file at `path` intact."""
    payload = jt_save_container(pickle.dumps(to_numpy_tree(obj), protocol=4))
    directory = os.path.dirname(os.path.abspath(path))
    temp_path = os.path.join(directory, f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(temp_path, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_path, path)
    except OSError as error:
        raise UsageError(f"{path}: cannot write the checkpoint ({error.strerror or error}); "
                         "any earlier file there is kept") from None
    finally:
        if os.path.exists(temp_path):
            os.remove(temp_path)


def _read_jittor_pickle(path):
    with open(path, "rb") as stream:
        payload = stream.read()
    if payload.endswith(JT_SAVE_TRAILER):
        payload, checksum = payload[:-28], payload[-28:-8]
        if hashlib.sha1(payload).digest() != checksum:
            raise UsageError(f"{path}: checkpoint is corrupt or truncated (checksum mismatch)")
    try:
        return load_pickle(payload, OFFICIAL_GLOBALS)
    except FileFormatError as error:
        raise UsageError(f"{path}: not a checkpoint file we can read: {error}") from None


def read_checkpoint(path):
    """Any supported checkpoint file as nested dicts of NumPy arrays."""
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such checkpoint file")
    try:
        obj = read_pt_file(path) if is_pt_file(path) else _read_jittor_pickle(path)
        if official.is_official(obj):
            obj = official.to_checkpoint(obj)
    except FileFormatError as error:
        message = str(error)
        raise UsageError(message if message.startswith(path) else f"{path}: {message}") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read the checkpoint ({error.strerror or error})") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{path}: not a checkpoint (holds a {type(obj).__name__}, not a dict)")
    return to_numpy_tree(obj)


def is_generator_state(state):
    return isinstance(state, dict) and any(
        key.startswith("style.") or key.startswith("generator.progression.") for key in state)


def generator_state(checkpoint, path, prefer_ema=True):
    """The generator weights in a checkpoint: the EMA copy (`g_running`) when there is one."""
    order = ("g_running", "generator") if prefer_ema else ("generator", "g_running")
    for key in order:
        if is_generator_state(checkpoint.get(key)):
            return checkpoint[key]
    if is_generator_state(checkpoint):  # a bare state_dict, maybe with our "meta" beside it
        return {key: value for key, value in checkpoint.items() if isinstance(value, np.ndarray)}
    raise UsageError(f"{path}: not a StyleGAN generator checkpoint "
                     "(no g_running or generator weights in it)")


def infer_generator_config(state):
    """code_dim, n_mlp, width and classes of the StyledGenerator these weights belong to."""
    mapping = [key for key in state if key.startswith("style.") and key.endswith("weight_orig")]
    embedding = state.get("label_embed.weight")
    return {
        "n_classes": int(np.shape(embedding)[0]) if embedding is not None else 0,
        "code_dim": int(state[mapping[0]].shape[0]) if mapping else 512,
        "n_mlp": len(mapping) or 8,
        "width": int(state["generator.progression.0.conv1.input"].shape[1])
        if "generator.progression.0.conv1.input" in state else 512,
    }


def infer_from_rgb_activate(discriminator_state):
    return any(key.startswith("from_rgb.0.0.") for key in discriminator_state)


def _derived_keys(state, ours):
    """Entries the other projects save that we compute: equalised `weight` beside a
    `weight_orig`, and blur kernels (`weight`, `weight_flip`) of modules we keep stateless."""
    derived = set()
    for key in state:
        if key in ours:
            continue
        stem, _, leaf = key.rpartition(".")
        if leaf == "weight" and f"{stem}.weight_orig" in ours:
            derived.add(key)
        elif leaf in ("weight", "weight_flip") and np.ndim(state[key]) == 4 \
                and np.shape(state[key])[1] == 1 and not any(k.startswith(stem + ".") for k in ours):
            derived.add(key)
    return derived


def _describe(keys, limit=3):
    keys = sorted(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_state(module, state, what, path):
    """Copy `state` into `module`, or fail naming the keys that do not fit."""
    ours = module.state_dict()
    unexpected = set(state) - set(ours) - _derived_keys(state, ours)
    missing = set(ours) - set(state) - OPTIONAL_KEYS
    mismatched = {key for key in set(ours) & set(state)
                  if tuple(np.shape(state[key])) != tuple(ours[key].shape)}
    problems = []
    if missing:
        problems.append(f"missing {_describe(missing)}")
    if unexpected:
        problems.append(f"unexpected {_describe(unexpected)}")
    for key in sorted(mismatched)[:3]:
        problems.append(f"{key} has shape {tuple(np.shape(state[key]))} in the file but "
                        f"{tuple(ours[key].shape)} in the model")
    if len(mismatched) > 3:
        problems.append(f"{len(mismatched) - 3} more shapes differ")
    if problems:
        raise UsageError(f"{path}: {what} does not fit the model: " + "; ".join(problems)
                         + " (check --width, --code_dim and --from_rgb_activate)")
    loaded = [var.update(jt.array(np.asarray(state[key], dtype=np.float32)))
              for key, var in ours.items() if key in state]
    # materialise now: Jittor miscompiles a fresh 1-element array fused into a broadcast
    jt.sync(loaded)
    return set(ours) & set(state)


def trained_resolution(checkpoint):
    """(size, alpha) a checkpoint was last trained at: recorded in ours, 128 for others."""
    meta = checkpoint.get("meta") or {}
    return int(meta.get("size", 128)), float(meta.get("alpha", 1.0))


def architecture_of(checkpoint):
    """The layout options a checkpoint records (NVIDIA's: channel table, per-layer noise,
    instance-norm epsilon, D's blocks); empty for files laid out like rosinality's."""
    return dict((checkpoint.get("meta") or {}).get("architecture") or {})


# the constructor options of each network that a recorded architecture fixes
GENERATOR_LAYOUT = ("code_dim", "n_mlp", "channels", "noise_per_layer", "norm_eps",
                    "bias_after_blur", "n_classes")
DISCRIMINATOR_LAYOUT = ("channels", "stddev_group", "from_rgb_activate", "official_blocks",
                        "n_classes")
OPTIONAL_LAYOUT = ("n_classes",)  # absent from layouts recorded before labels


def layout_options(architecture, keys):
    return {key: architecture[key] for key in keys
            if key in architecture or key not in OPTIONAL_LAYOUT}


def generator_options(checkpoint, state):
    architecture = architecture_of(checkpoint)
    if not architecture:
        return infer_generator_config(state)
    return layout_options(architecture, GENERATOR_LAYOUT)


def load_generator(path, unconditional_only=None):
    """The EMA generator of any checkpoint, built to the file's shape. `unconditional_only`
    names a tool that draws no classes: a conditional file is then refused in one line.

    Returns (generator, checkpoint): the checkpoint tells the trained size and whether
    the tracked w average came with it (and, for NVIDIA's files, their noise maps)."""
    checkpoint = read_checkpoint(path)
    state = generator_state(checkpoint, path)
    meta = checkpoint.get("meta") or {}
    generator = StyledGenerator(**generator_options(checkpoint, state), grey=bool(meta.get("grey")))
    if unconditional_only and generator.n_classes:
        raise UsageError(f"{path}: a conditional model ({generator.n_classes} classes); "
                         f"{unconditional_only} works with unconditional models only")
    load_state(generator, state, "generator", path)
    checkpoint["has_w_avg"] = "w_avg" in state
    return generator, checkpoint


def load_discriminator(path):
    """The discriminator of a checkpoint that has one, built to the file's shape.
    Returns (discriminator, checkpoint)."""
    checkpoint = read_checkpoint(path)
    state = checkpoint.get("discriminator")
    if not isinstance(state, dict) or not state:
        raise UsageError(f"{path}: holds no discriminator (only generator weights)")
    architecture = architecture_of(checkpoint)
    if architecture:
        options = layout_options(architecture, DISCRIMINATOR_LAYOUT)
    else:
        config = infer_generator_config(generator_state(checkpoint, path))
        options = {"width": config["width"], "n_classes": config["n_classes"],
                   "from_rgb_activate": infer_from_rgb_activate(state)}
    discriminator = Discriminator(**options)
    load_state(discriminator, state, "discriminator", path)
    return discriminator, checkpoint
