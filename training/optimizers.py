"""Adam for G and D as both projects set it (betas 0 and 0.99, the mapping network at a
hundredth of the learning rate), and its state as plain arrays for checkpoints."""
import numpy as np

from cli import UsageError
from runtime import jt

MAPPING_LR_MULT = 0.01


def trainable(module):
    return [p for p in module.parameters() if not p.is_stop_grad()]


class MomentumFreeAdam(jt.optim.Adam):
    """Jittor's Adam for beta1 = 0 and no weight decay, in half the operators per parameter.

    With beta1 = 0 the first moment is the gradient itself and its bias correction is 1, so
    Jittor's `0 * m + 1 * g` and `p * 0 + g` are g exactly; the step size is the float32 value
    Jittor computes, once per group instead of once per parameter. Results, the saved state
    (m, v, step count) and a resumed run are bit for bit those of jt.optim.Adam. Any other
    setting runs Jittor's own step."""

    def step(self, loss=None, retain_graph=False):
        if self.betas[0] != 0 or self.weight_decay != 0:
            return super().step(loss, retain_graph)
        self.pre_step(loss, retain_graph)
        self.apply_gradients()
        self.post_step()

    def apply_gradients(self):
        steps = float(self.n_step)
        for group in self.param_groups:
            beta2 = group.get("betas", self.betas)[1]
            eps = group.get("eps", self.eps)
            # what jt.sqrt and Jittor's float32 product give for lr * sqrt(1 - beta2^n)
            step_size = float(np.float32(group.get("lr", self.lr))
                              * np.sqrt(np.float32(1 - beta2 ** steps)))
            for p, g, v, m in zip(group["params"], group["grads"], group["values"], group["m"]):
                if p.is_stop_grad():
                    continue
                m.update(g)
                v.update(beta2 * v + (1 - beta2) * g * g)
                p.update(p - g * step_size / (jt.sqrt(v) + eps))


def make_optimizers(generator, discriminator, lr):
    # the mapping network learns 100x slower, as in the paper
    g_optimizer = MomentumFreeAdam([{"params": trainable(generator.generator), "lr_mult": 1.0},
                                    {"params": trainable(generator.style),
                                     "lr_mult": MAPPING_LR_MULT}], lr=lr, betas=(0.0, 0.99))
    d_optimizer = MomentumFreeAdam([{"params": trainable(discriminator), "lr_mult": 1.0}],
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
