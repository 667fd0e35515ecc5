"""Test and benchmark helper: pickles laid out as NVIDIA's StyleGAN releases, without
TensorFlow. Each network pickles as a call of `dnnlib.tflib.network.Network` (a name
foreign_pickle writes) with its state dict, as the official training loop's
pickle.dump((G, D, Gs)) does. The variable names, shapes and creation order follow NVIDIA's
networks_stylegan.py (G_style, G_synthesis, G_mapping, D_basic); test_official checks them
against a pickle NVIDIA's own code wrote.
"""
import numpy as np

from foreign_pickle import ForeignName, dumps

NETWORK = ForeignName("dnnlib.tflib.network", "Network")


class Network:
    """Pickles as NVIDIA's Network: the class by name, then its state."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return NETWORK, (), self.state


def network_state(name, build_func_name, static_kwargs, variables, components=None):
    return {"version": 3, "name": name, "static_kwargs": dict(static_kwargs),
            "components": components or {}, "build_module_src": "# never executed\n",
            "build_func_name": build_func_name, "variables": list(variables)}


class Layout:
    """The official channel rule: nf(stage) = min(fmap_base / 2**stage, fmap_max)."""

    def __init__(self, resolution, fmap_base, fmap_max, latent, mapping_layers, seed):
        self.resolution, self.fmap_base, self.fmap_max = resolution, fmap_base, fmap_max
        self.latent, self.mapping_layers = latent, mapping_layers
        self.log2 = int(np.log2(resolution))
        self.rng = np.random.RandomState(seed)

    def nf(self, stage):
        return min(self.fmap_base // 2**stage, self.fmap_max)

    def values(self, *shape, scale=1.0):
        return (self.rng.standard_normal(shape).astype(np.float32) * scale)

    def kwargs(self):
        return {"num_channels": 3, "resolution": self.resolution, "label_size": 0,
                "fmap_base": self.fmap_base, "fmap_max": self.fmap_max}

    def synthesis_variables(self):
        latent = self.latent
        names = [("lod", np.float32(0))]
        names += [(f"noise{i}", self.values(1, 1, 2**(2 + i // 2), 2**(2 + i // 2)))
                  for i in range(2 * (self.log2 - 1))]

        def layer(prefix, channels):
            return [(f"{prefix}/Noise/weight", self.values(channels, scale=0.1)),
                    (f"{prefix}/bias", self.values(channels, scale=0.1)),
                    (f"{prefix}/StyleMod/weight", self.values(latent, 2 * channels)),
                    (f"{prefix}/StyleMod/bias", self.values(2 * channels, scale=0.1))]

        for res in range(2, self.log2 + 1):
            size, channels, previous = 2**res, self.nf(res - 1), self.nf(res - 2)
            if res == 2:
                names += [("4x4/Const/const", self.values(1, channels, 4, 4))]
                names += layer("4x4/Const", channels)
                names += [("4x4/Conv/weight", self.values(3, 3, channels, channels))]
                names += layer("4x4/Conv", channels)
            else:
                names += [(f"{size}x{size}/Conv0_up/weight", self.values(3, 3, previous, channels))]
                names += layer(f"{size}x{size}/Conv0_up", channels)
                names += [(f"{size}x{size}/Conv1/weight", self.values(3, 3, channels, channels))]
                names += layer(f"{size}x{size}/Conv1", channels)
            lod = self.log2 - res
            names += [(f"ToRGB_lod{lod}/weight", self.values(1, 1, channels, 3)),
                      (f"ToRGB_lod{lod}/bias", self.values(3, scale=0.1))]
        return names

    def mapping_variables(self):
        # official init: N(0, 1 / lrmul**2), lrmul 0.01
        return [item for i in range(self.mapping_layers) for item in
                ((f"Dense{i}/weight", self.values(self.latent, self.latent, scale=100.0)),
                 (f"Dense{i}/bias", self.values(self.latent)))]

    def discriminator_variables(self):
        names = [("lod", np.float32(0))]
        for res in range(self.log2, 2, -1):
            size, lod = 2**res, self.log2 - res
            names += [(f"FromRGB_lod{lod}/weight", self.values(1, 1, 3, self.nf(res - 1))),
                      (f"FromRGB_lod{lod}/bias", self.values(self.nf(res - 1), scale=0.1)),
                      (f"{size}x{size}/Conv0/weight",
                       self.values(3, 3, self.nf(res - 1), self.nf(res - 1))),
                      (f"{size}x{size}/Conv0/bias", self.values(self.nf(res - 1), scale=0.1)),
                      (f"{size}x{size}/Conv1_down/weight",
                       self.values(3, 3, self.nf(res - 1), self.nf(res - 2))),
                      (f"{size}x{size}/Conv1_down/bias", self.values(self.nf(res - 2), scale=0.1))]
        top = self.nf(1)
        names += [(f"FromRGB_lod{self.log2 - 2}/weight", self.values(1, 1, 3, top)),
                  (f"FromRGB_lod{self.log2 - 2}/bias", self.values(top, scale=0.1)),
                  ("4x4/Conv/weight", self.values(3, 3, top + 1, top)),
                  ("4x4/Conv/bias", self.values(top, scale=0.1)),
                  ("4x4/Dense0/weight", self.values(top * 16, self.nf(0))),
                  ("4x4/Dense0/bias", self.values(self.nf(0), scale=0.1)),
                  ("4x4/Dense1/weight", self.values(self.nf(0), 1)),
                  ("4x4/Dense1/bias", self.values(1, scale=0.1))]
        return names


def official_pickle(resolution=1024, fmap_base=8192, fmap_max=512, latent=512,
                    mapping_layers=8, seed=0):
    """pickle.dumps((G, D, Gs)) with random values in the official layout; the defaults are
    those of the released FFHQ / CelebA-HQ models."""
    layout = Layout(resolution, fmap_base, fmap_max, latent, mapping_layers, seed)
    g_kwargs = {**layout.kwargs(), "latent_size": latent, "dlatent_size": latent,
                "mapping_layers": mapping_layers, "mapping_fmaps": latent}
    def generator(name):
        synthesis = Network(network_state("G_synthesis", "G_synthesis", g_kwargs,
                                          layout.synthesis_variables()))
        mapping = Network(network_state("G_mapping", "G_mapping",
                                        {"dlatent_broadcast": 2 * (layout.log2 - 1), **g_kwargs},
                                        layout.mapping_variables()))
        return Network(network_state(name, "G_style", g_kwargs,
                                     [("lod", np.float32(0)),
                                      ("dlatent_avg", layout.values(latent, scale=0.1))],
                                     {"synthesis": synthesis, "mapping": mapping}))

    d = Network(network_state("D", "D_basic", layout.kwargs(), layout.discriminator_variables()))
    return dumps((generator("G"), d, generator("Gs")), protocol=4)
