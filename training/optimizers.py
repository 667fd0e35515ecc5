"""Adam for G and D as both projects set it (betas 0 and 0.99, the mapping network at a
hundredth of the learning rate), and its state as plain arrays for checkpoints."""
import numpy as np

from cli import UsageError
from runtime import jt

MAPPING_LR_MULT = 0.01


def trainable(module):
    return [p for p in module.parameters() if not p.is_stop_grad()]


def make_optimizers(generator, discriminator, lr):
    # the mapping network learns 100x slower, as in the paper
    g_optimizer = jt.optim.Adam([{"params": trainable(generator.generator), "lr_mult": 1.0},
                                 {"params": trainable(generator.style),
                                  "lr_mult": MAPPING_LR_MULT}], lr=lr, betas=(0.0, 0.99))
    d_optimizer = jt.optim.Adam([{"params": trainable(discriminator), "lr_mult": 1.0}],
                                lr=lr, betas=(0.0, 0.99))
    return g_optimizer, d_optimizer


def set_learning_rate(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_mult"]


def optimizer_state(optimizer):
    return {"n_step": optimizer.n_step,
            "groups": [{"lr": group.get("lr", optimizer.lr), "m": list(group["m"]),
                        "values": list(group["values"])} for group in optimizer.param_groups]}


def load_optimizer_state(optimizer, state, path):
    loaded = []
    for group, saved in zip(optimizer.param_groups, state["groups"]):
        group["lr"] = saved["lr"]
        for name in ("m", "values"):
            for var, array in zip(group[name], saved[name]):
                if tuple(var.shape) != tuple(np.shape(array)):
                    raise UsageError(f"{path}: optimizer state does not fit the model")
                loaded.append(var.update(jt.array(array)))
    jt.sync(loaded)
    optimizer.n_step = int(state["n_step"])
