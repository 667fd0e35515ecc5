"""The training state: models, EMA generator, optimizers, counters and arguments, saved and
restored as one object."""
import convolution
from cli import UsageError
from formats.checkpoints import (DISCRIMINATOR_LAYOUT, GENERATOR_LAYOUT, generator_state,
                                 layout_options, load_state)
from model import Discriminator, StyledGenerator
from training.ema import update_ema
from training.optimizers import (load_optimizer_state, load_torch_adam_state, make_optimizers,
                                 optimizer_state)
from training.schedule import plan_for


def network_options(args):
    """Generator and discriminator constructor options: from the command line, or from the
    layout a checkpoint records (NVIDIA's models: channel table, per-layer noise, ...)."""
    grey = args.colour == "grey"
    n_classes = getattr(args, "n_classes", 0) or 0
    architecture = getattr(args, "architecture", None)
    if architecture:
        return ({**layout_options(architecture, GENERATOR_LAYOUT), "grey": grey},
                {**layout_options(architecture, DISCRIMINATOR_LAYOUT),
                 "stddev_group": args.stddev_group})
    return (dict(code_dim=args.code_dim, n_mlp=args.n_mlp, width=args.width, grey=grey,
                 n_classes=n_classes),
            dict(from_rgb_activate=not args.no_from_rgb_activate, width=args.width,
                 stddev_group=args.stddev_group, n_classes=n_classes))


def resolved_precision(precision):
    if precision == "auto":
        return "bfloat16" if convolution.bf16_available() else "float32"
    if precision == "bfloat16" and not convolution.bf16_available():
        raise UsageError("--precision bfloat16: needs the CPU path on a CPU with AMX "
                         "(Intel Sapphire Rapids or later); use --precision float32")
    return precision


class TrainingState:
    """Models, EMA, optimizers, counters and args: saved and restored as one object."""

    def __init__(self, args):
        self.args = args
        convolution.set_precision(resolved_precision(args.precision))
        g_options, d_options = network_options(args)
        self.generator = StyledGenerator(**g_options)
        self.discriminator = Discriminator(**d_options)
        self.g_running = StyledGenerator(**g_options)
        self.ema_pairs = list(zip(self.g_running.state_dict().values(),
                                  self.generator.state_dict().values()))
        update_ema(self.ema_pairs, decay=0)
        self.g_optimizer, self.d_optimizer = make_optimizers(
            self.generator, self.discriminator, args.lr)
        self.used_samples = 0
        self.iteration = 0
        self.augment_p = 0.0  # --augment ada: the probability of each augmentation
        self.ada_signs = []  # r_t of the iterations since p last moved
        # where the data stream of the current resolution and batch size stands
        self.data_stream = {"resolution": None, "batch": None, "position": 0}

    def meta(self):
        """What generate.py needs to know: the size and alpha the model is at, and whether
        it draws grey images."""
        plan = plan_for(self)
        meta = {"size": plan.resolution, "step": plan.step, "alpha": plan.alpha,
                "iteration": self.iteration, "grey": self.args.colour == "grey",
                "flipped": not self.args.no_flip}
        if getattr(self.args, "architecture", None):  # so every loader rebuilds this layout
            meta["architecture"] = self.args.architecture
        if getattr(self.args, "n_classes", 0):  # conditional: its classes and how often
            meta.update(n_classes=self.args.n_classes, class_names=self.args.class_names,
                        class_counts=self.args.class_counts)
        return meta

    def to_checkpoint(self):
        return {"generator": self.generator.state_dict(),
                "discriminator": self.discriminator.state_dict(),
                "g_running": self.g_running.state_dict(),
                "g_optimizer": optimizer_state(self.g_optimizer),
                "d_optimizer": optimizer_state(self.d_optimizer),
                "progress": {"iteration": self.iteration, "used_samples": self.used_samples,
                             "data_stream": dict(self.data_stream),
                             "augment_p": self.augment_p, "ada_signs": list(self.ada_signs)},
                "args": vars(self.args),
                "meta": self.meta()}

    def load_weights(self, checkpoint, path):
        """G, the EMA generator (with its w average) and D, as far as the file has them;
        True when it had all three."""
        g_state = generator_state(checkpoint, path, prefer_ema=False)
        load_state(self.generator, g_state, "generator", path)
        load_state(self.g_running, generator_state(checkpoint, path), "g_running", path)
        if "discriminator" not in checkpoint:
            return False
        load_state(self.discriminator, checkpoint["discriminator"], "discriminator", path)
        return True

    def start_from(self, checkpoint, path):
        """--from: the file's weights, everything else new; a sentence saying what."""
        whole = self.load_weights(checkpoint, path)
        loaded = "G, the EMA generator and D" if whole else "the generator (D starts new)"
        return (f"a new run from {loaded} at {plan_for(self).resolution} px; schedule, "
                f"iterations and optimizers start new")

    def restore(self, checkpoint, path):
        """Load what the checkpoint has; return a sentence saying what starts fresh."""
        if not self.load_weights(checkpoint, path):
            return "loaded the generator only: discriminator, optimizers and progress start fresh"
        if (checkpoint.get("meta") or {}).get("source") == "official":
            return (f"loaded NVIDIA's G, D and Gs (as the EMA generator, with its w average) "
                    f"for {plan_for(self).resolution} px; optimizers and progress start fresh")
        if "progress" not in checkpoint:
            if all(isinstance(checkpoint.get(k), dict) and "state" in checkpoint[k]
                   for k in ("g_optimizer", "d_optimizer")):
                load_torch_adam_state(self.g_optimizer, checkpoint["g_optimizer"], path)
                load_torch_adam_state(self.d_optimizer, checkpoint["d_optimizer"], path)
                return ("loaded generator, EMA generator, discriminator and the optimizers' "
                        "state (rosinality's file: progress starts fresh)")
            return ("loaded generator, EMA generator and discriminator (not ours: "
                    "optimizers and progress start fresh)")
        load_optimizer_state(self.g_optimizer, checkpoint["g_optimizer"], path)
        load_optimizer_state(self.d_optimizer, checkpoint["d_optimizer"], path)
        self.iteration = int(checkpoint["progress"]["iteration"])
        self.used_samples = int(checkpoint["progress"]["used_samples"])
        self.augment_p = float(checkpoint["progress"].get("augment_p", 0.0))
        self.ada_signs = [float(r) for r in checkpoint["progress"].get("ada_signs", [])]
        stream = checkpoint["progress"].get("data_stream")  # absent in files before it
        if stream:
            self.data_stream = {"resolution": stream["resolution"], "batch": stream["batch"],
                                "position": int(stream["position"])}
        return f"resumed everything at iteration {self.iteration} ({self.used_samples} samples seen)"

    def broadcast(self):
        """Start every MPI rank from rank 0's weights."""
        for module in (self.generator, self.discriminator, self.g_running):
            module.mpi_param_broadcast(0)
