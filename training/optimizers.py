"""Adam for G and D (betas 0 and 0.99, the mapping network at a hundredth of the learning
rate) with a step count per parameter, and its state as plain arrays for checkpoints."""
import numpy as np

from cli import UsageError
from runtime import jt

MAPPING_LR_MULT = 0.01


def trainable(module):
    return [p for p in module.parameters() if not p.is_stop_grad()]


class PerParameterAdam(jt.optim.Adam):
    """Adam whose bias correction counts each parameter's own steps, as PyTorch's Adam does
    (rosinality): a block that starts training late (a new resolution, its to_rgb/from_rgb)
    takes its first step with the first step's correction. Jittor's Adam counts the
    optimizer's steps, so such a block's first update was about 10x the learning rate per
    element (v = g^2 / 100 after one step with a correction of about 1).

    Parameters with stop_grad, or in `resting` (ids: the blocks not in use under MPI, where
    they cannot be stop_grad), take no step: their moments and counts stay as they are.
    With beta1 = 0 the first moment is the gradient itself and its correction is 1, so the
    update skips both (m is still kept, for the saved state)."""

    def __init__(self, params, lr, eps=1e-8, betas=(0.9, 0.999)):
        super().__init__(params, lr, eps=eps, betas=betas)
        self.resting = set()
        for group in self.param_groups:
            group["steps"] = [0] * len(group["params"])

    def step(self, loss=None, retain_graph=False):
        self.pre_step(loss, retain_graph)
        self.apply_gradients()
        self.post_step()

    def apply_gradients(self):
        for group in self.param_groups:
            beta1, beta2 = group.get("betas", self.betas)
            eps = group.get("eps", self.eps)
            lr = np.float32(group.get("lr", self.lr))
            sizes = {}  # step count -> float32 step size, shared by the group's parameters
            for index, (p, g, v, m) in enumerate(zip(group["params"], group["grads"],
                                                     group["values"], group["m"])):
                if p.is_stop_grad() or id(p) in self.resting:
                    continue
                t = group["steps"][index] = group["steps"][index] + 1
                if t not in sizes:
                    sizes[t] = float(lr * np.float32(np.sqrt(1 - beta2 ** t))
                                     / np.float32(1 - beta1 ** t))
                v.update(beta2 * v + (1 - beta2) * g * g)
                if beta1 == 0:
                    moment = m.update(g)
                else:
                    moment = m.update(beta1 * m + (1 - beta1) * g)
                p.update(p - moment * sizes[t] / (jt.sqrt(v) + eps))

    def reset(self):
        """Forget every moment and step count (the official code's reset at each new
        resolution, --reset_optimizers_on_grow)."""
        zeroed = []
        for group in self.param_groups:
            group["steps"] = [0] * len(group["params"])
            for name in ("m", "values"):
                for var in group[name]:
                    zeroed.append(var.update(jt.zeros(var.shape, var.dtype)))
        jt.sync(zeroed)


def make_optimizers(generator, discriminator, lr):
    # the mapping network learns 100x slower, as in the paper
    groups = [{"params": trainable(generator.generator), "lr_mult": 1.0},
              {"params": trainable(generator.style), "lr_mult": MAPPING_LR_MULT}]
    if getattr(generator, "label_embed", None) is not None:
        # the official LabelConcat weight has no mapping multiplier
        groups.append({"params": trainable(generator.label_embed), "lr_mult": 1.0})
    g_optimizer = PerParameterAdam(groups, lr=lr, betas=(0.0, 0.99))
    d_optimizer = PerParameterAdam([{"params": trainable(discriminator), "lr_mult": 1.0}],
                                   lr=lr, betas=(0.0, 0.99))
    return g_optimizer, d_optimizer


def set_learning_rate(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_mult"]


def optimizer_state(optimizer):
    return {"n_step": optimizer.n_step,
            "groups": [{"lr": group.get("lr", optimizer.lr), "m": list(group["m"]),
                        "values": list(group["values"]), "steps": list(group["steps"])}
                       for group in optimizer.param_groups]}


def load_optimizer_state(optimizer, state, path):
    """Moments, step counts and learning rates. Files written before the per-parameter count
    hold the optimizer's count only: a parameter whose second moment is all zero has taken no
    step, any other is given that count."""
    loaded = []
    n_step = int(state["n_step"])
    for group, saved in zip(optimizer.param_groups, state["groups"]):
        group["lr"] = saved["lr"]
        for name in ("m", "values"):
            for var, array in zip(group[name], saved[name]):
                if tuple(var.shape) != tuple(np.shape(array)):
                    raise UsageError(f"{path}: optimizer state does not fit the model")
                loaded.append(var.update(jt.array(array)))
        if "steps" in saved:
            steps = [int(t) for t in saved["steps"]]
        else:
            steps = [n_step if np.any(np.asarray(v) != 0) else 0 for v in saved["values"]]
        if len(steps) != len(group["params"]):
            raise UsageError(f"{path}: optimizer state does not fit the model")
        group["steps"] = steps
    jt.sync(loaded)
    optimizer.n_step = n_step


def load_torch_adam_state(optimizer, torch_state, path):
    """PyTorch's Adam.state_dict() (rosinality's files) into ours: parameters numbered across
    the groups in order, as both models list them; a parameter without state took no step."""
    groups = torch_state.get("param_groups") or []
    if [len(g.get("params", [])) for g in groups] != [len(g["params"]) for g in optimizer.param_groups]:
        raise UsageError(f"{path}: its optimizer state does not fit the model")
    loaded = []
    for group, saved in zip(optimizer.param_groups, groups):
        group["lr"] = float(saved["lr"])
        steps = []
        for index, var, m, v in zip(saved["params"], group["params"], group["m"], group["values"]):
            entry = torch_state["state"].get(index)
            if entry is None:
                steps.append(0)
                continue
            for target, array in ((m, entry["exp_avg"]), (v, entry["exp_avg_sq"])):
                if tuple(target.shape) != tuple(np.shape(array)):
                    raise UsageError(f"{path}: its optimizer state does not fit the model")
                loaded.append(target.update(jt.array(np.asarray(array, np.float32))))
            steps.append(int(np.asarray(entry["step"]).item()))
        group["steps"] = steps
    jt.sync(loaded)
    optimizer.n_step = max((t for g in optimizer.param_groups for t in g["steps"]), default=0)
