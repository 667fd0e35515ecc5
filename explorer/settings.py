"""What the page asks to see: seed, truncation, style mixing, noise, directions, interpolation,
read from a query string and checked, each bad value named in one line."""
import math
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

MAX_SEED = 2**32 - 1
PSI_RANGE = (-1.0, 2.0)
STRENGTH_RANGE = (-20.0, 20.0)
NOISE_MODES = ("stored", "random", "off")
# names the page may send beside the settings: its token, its request slot and number
PASSED_THROUGH = ("token", "client", "n")


class BadSetting(ValueError):
    """A query value the explorer cannot use; the message names it (HTTP 400)."""


@dataclass(frozen=True)
class Settings:
    model: str
    seed: int = 0
    psi: float = 0.7  # generate.py's --truncation
    cutoff: int = None  # truncate every layer, as generate.py without --truncation_cutoff
    mix: int = 1  # the second seed: style mixing and interpolation
    blocks: tuple = ()  # blocks that take the second seed's styles
    lerp: float = 0.0  # 0: seed A's w; 1: seed B's
    noise: str = None  # none given: stored where the file has maps, else random
    noise_seed: int = 0
    strengths: tuple = field(default=())  # one per direction
    label: int = 0  # a conditional model's class (the query's "class")

    def key(self):
        return repr(self)


def _integer(name, text, low, high):
    try:
        value = int(text)
    except ValueError:
        raise BadSetting(f"{name}: {text[:40]!r} is not a whole number") from None
    if not low <= value <= high:
        raise BadSetting(f"{name}: {value} is outside {low}..{high}")
    return value


def _number(name, text, low, high):
    try:
        value = float(text)
    except ValueError:
        raise BadSetting(f"{name}: {text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise BadSetting(f"{name}: {text[:40]!r} is not a finite number")
    if not low <= value <= high:
        raise BadSetting(f"{name}: {text[:40]} is outside {low:g}..{high:g}")
    return value


def parse_settings(query, models, n_directions):
    """Settings from a query string; `models` maps each checkpoint's name to its number of
    blocks, whether it holds noise maps and its classes (0: unconditional):
    {name: (blocks, has_stored_noise, n_classes)}."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query),
                          max_num_fields=64)
    except ValueError:
        raise BadSetting("the query string is malformed") from None
    given = {}
    for name, value in pairs:
        if name in given:
            raise BadSetting(f"{name}: given twice")
        given[name] = value
    known = {"model", "seed", "psi", "cutoff", "mix", "blocks", "lerp", "noise", "noise_seed",
             "class"}
    known |= {f"d{index}" for index in range(n_directions)} | set(PASSED_THROUGH)
    unknown = sorted(set(given) - known)
    if unknown:
        raise BadSetting(f"{unknown[0][:40]}: not a setting")
    model = given.get("model", next(iter(models)))
    if model not in models:
        raise BadSetting(f"model: no checkpoint named {model[:60]!r} was given to explore.py")
    blocks, has_noise, n_classes = models[model]
    layers = 2 * blocks
    values = {"model": model}
    if "seed" in given:
        values["seed"] = _integer("seed", given["seed"], 0, MAX_SEED)
    if "mix" in given:
        values["mix"] = _integer("mix", given["mix"], 0, MAX_SEED)
    if "noise_seed" in given:
        values["noise_seed"] = _integer("noise_seed", given["noise_seed"], 0, MAX_SEED)
    if given.get("class", "") != "":
        if not n_classes:
            raise BadSetting("class: this checkpoint is unconditional (it has no classes)")
        values["label"] = _integer("class", given["class"], 0, n_classes - 1)
    if "psi" in given:
        values["psi"] = _number("psi", given["psi"], *PSI_RANGE)
    if given.get("cutoff", "") != "":
        values["cutoff"] = _integer("cutoff", given["cutoff"], 0, layers)
    if "lerp" in given:
        values["lerp"] = _number("lerp", given["lerp"], 0.0, 1.0)
    if given.get("blocks", "") != "":
        chosen = {_integer("blocks", part, 0, blocks - 1) for part in given["blocks"].split(",")}
        values["blocks"] = tuple(sorted(chosen))
    noise = given.get("noise") or ("stored" if has_noise else "random")
    if noise not in NOISE_MODES:
        raise BadSetting(f"noise: {noise[:40]!r}: choose {', '.join(NOISE_MODES)}")
    if noise == "stored" and not has_noise:
        raise BadSetting("noise: stored: this checkpoint holds no noise maps (NVIDIA's pickles "
                         "do); choose random or off")
    values["noise"] = noise
    values["strengths"] = tuple(_number(f"d{index}", given[f"d{index}"], *STRENGTH_RANGE)
                                if f"d{index}" in given else 0.0
                                for index in range(n_directions))
    return Settings(**values)
