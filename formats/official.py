"""NVIDIA's official StyleGAN pickles (karras2019stylegan-*.pkl), read without TensorFlow.

Such a file is `pickle.dump((G, D, Gs))` of dnnlib Network objects. Each Network pickles
as a state dict: name, static_kwargs, components (sub-networks), build_module_src (the
networks' Python source, which we never execute) and its variables as (name, array) pairs.
"""
from formats.safe_pickle import FileFormatError, load_pickle

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
